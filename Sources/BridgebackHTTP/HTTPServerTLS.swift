import HummingbirdTLS
public import NIOSSL

/// HTTPS for a Bridgeback server: a PEM certificate chain and its private key, read when the
/// server starts.
///
/// Admission and the coordinator's status API carry bearer tokens; between hosts they must not
/// travel in clear text. With this set the server speaks only TLS on its port (no plain HTTP
/// beside it), so a client that forgets `https://` fails instead of sending its token in the open.
public struct HTTPServerTLS: Sendable, Hashable {
    /// The server's certificate, then any intermediates (PEM).
    public var certificateFile: String
    /// The certificate's private key (PEM, unencrypted).
    public var keyFile: String

    public init(certificateFile: String, keyFile: String) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Why these files cannot serve TLS, in words a person can act on.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The server-side TLS configuration (TLS 1.2 or later), or why the files do not make one.
    public func configuration() throws(Failure) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw Failure(description: "cannot read the TLS certificate \(certificateFile) as PEM: \(error)")
        }
        guard !chain.isEmpty else { throw Failure(description: "the TLS certificate file \(certificateFile) holds no certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw Failure(description: "cannot read the TLS key \(keyFile) as an unencrypted PEM private key: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            // Builds the context once now, so a key that does not match the certificate is reported at start.
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "the TLS key \(keyFile) does not fit the certificate \(certificateFile): \(error)")
        }
        return configuration
    }
}
