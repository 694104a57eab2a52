import AsyncHTTPClient
import Foundation
import NIOSSL
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A private CA and a certificate for 127.0.0.1 / localhost, made by `deploy/local/tls.sh`.
struct TestCertificates {
    let directory: URL
    var ca: String { directory.appendingPathComponent("ca.pem").path }
    var certificate: String { directory.appendingPathComponent("server.pem").path }
    var key: String { directory.appendingPathComponent("server.key").path }

    static func make(in parent: URL) throws -> TestCertificates {
        let directory = parent.appendingPathComponent("tls")
        let script = Broker.repoRoot.appendingPathComponent("deploy/local/tls.sh").path
        try Broker.run(script, ["cert", directory.path, "server", "DNS:localhost", "IP:127.0.0.1"])
        return TestCertificates(directory: directory)
    }

    /// An AsyncHTTPClient that trusts this CA only (nil: the system's roots).
    static func client(trusting ca: String?) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca { tls.trustRoots = .file(ca) }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// GET `url` with `client`; the status code, or the error.
    static func get(_ url: String, with client: HTTPClient, token: String? = nil) async -> Result<Int, any Error> {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return .success(Int(response.status.code))
        } catch {
            return .failure(error)
        }
    }
}

extension BrokerBacked {
    /// Issue #14 item 4: admission and the coordinator's status API serve HTTPS when given a certificate.
    @Suite(.serialized)
    struct HTTPSTests {
        @Test func admissionAndTheStatusAPIServeHTTPSThatVerifiesAgainstThePrivateCAOnly() async throws {
            try await withFleet("https") { fleet in
                let certificates = try TestCertificates.make(in: fleet.directory)
                try await fleet.prepareBroker()
                try await fleet.startReceiver()  // writes the surface registry admission reads
                let tlsFlags = ["--tls-certificate", certificates.certificate, "--tls-key", certificates.key]
                let admission = try fleet.start(
                    "admission",
                    [
                        "admission", "--port", "0", "--data-dir", fleet.directory.appendingPathComponent("admission").path,
                        "--surfaces", fleet.surfacesFile.path, "--recipes", fleet.recipesFile.path, "--pool", fleet.pool,
                        "--principals", fleet.principalsFile.path,
                    ] + tlsFlags)
                let admissionPort = try await admission.waitForPort()
                #expect(admission.ownOutput.contains("http.scheme=https"), "\(admission.ownOutput.suffix(500))")
                let coordinator = try fleet.start(
                    "coordinator",
                    [
                        "coordinator", "--data-dir", fleet.directory.appendingPathComponent("coordinator").path, "--surfaces",
                        fleet.surfacesFile.path, "--http-port", "0", "--principals", fleet.principalsFile.path,
                    ] + tlsFlags,
                    amqpURL: fleet.amqpURL("BRIDGEBACK_COORDINATOR_AMQP_URL"))
                try await coordinator.waitForLog("coordinator consuming")
                let coordinatorPort = try await coordinator.waitForPort()

                let trusting = TestCertificates.client(trusting: certificates.ca)
                let system = TestCertificates.client(trusting: nil)
                for (name, port) in [("admission", admissionPort), ("coordinator", coordinatorPort)] {
                    // With the private CA: verified, and the API answers (a token still required past /health).
                    let health = try await TestCertificates.get("https://127.0.0.1:\(port)/health", with: trusting).get()
                    let byName = try await TestCertificates.get("https://localhost:\(port)/health", with: trusting).get()
                    let noToken = try await TestCertificates.get("https://127.0.0.1:\(port)/metrics", with: trusting).get()
                    let withToken = try await TestCertificates.get(
                        "https://127.0.0.1:\(port)/metrics", with: trusting, token: fleet.tokens["operator"]
                    ).get()
                    let statuses: [Int] = [health, byName, noToken, withToken]
                    let expected: [Int] = [200, 200, 401, 200]
                    #expect(statuses == expected, "\(name)")

                    // Without it (the system's roots): the certificate does not verify, nothing is sent.
                    switch await TestCertificates.get("https://127.0.0.1:\(port)/health", with: system) {
                    case .success(let status):
                        Issue.record("\(name): verified a private certificate against the system roots (HTTP \(status))")
                    case .failure(let error):
                        let text = "\(error)"
                        #expect(text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshakeFailed"), "\(name): \(error)")
                    }

                    // Plain HTTP to the TLS port: no answer.
                    var plain = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/health")!)
                    plain.timeoutInterval = 10
                    do {
                        let (_, response) = try await URLSession.shared.data(for: plain)
                        Issue.record("\(name): plain HTTP got HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0) from the TLS port")
                    } catch {}
                }
                try await trusting.shutdown()
                try await system.shutdown()

                // The CLI verifies against BRIDGEBACK_CA_FILE, and refuses the server without it.
                let arguments = [
                    "submit", "--admission", "https://127.0.0.1:\(admissionPort)", "--origin", "cli:\(fleet.parent)", "--force", "detach",
                    "--recipe", "noop", "--final", "cli:\(fleet.parent)", "--token-file", fleet.tokenFile.path, "--json",
                    "check the https path",
                ]
                let accepted = try await Broker.runOffPool(Fleet.binary, arguments, environment: ["BRIDGEBACK_CA_FILE": certificates.ca])
                #expect(accepted.contains("\"job_id\""), "\(accepted)")
                do {
                    let output = try await Broker.runOffPool(Fleet.binary, arguments, environment: ["BRIDGEBACK_CA_FILE": ""])
                    Issue.record("the CLI reached an HTTPS server with a private certificate without its CA: \(output)")
                } catch {
                    #expect("\(error)".contains("cannot reach the admission service"), "\(error)")
                }
            }
        }

        @Test func aCertificateWithoutItsKeyIsRefusedAtStart() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bb-https-\(UUID().uuidString.prefix(6))")
            defer { try? FileManager.default.removeItem(at: directory) }
            let certificates = try TestCertificates.make(in: directory)
            do {
                let output = try await Broker.runOffPool(
                    Fleet.binary, ["admission", "--port", "0", "--tls-certificate", certificates.certificate, "--insecure-no-auth"])
                Issue.record("admission started with a certificate and no key: \(output)")
            } catch {
                #expect("\(error)".contains("--tls-certificate needs --tls-key"), "\(error)")
            }
            do {
                // The CA's key does not fit the server's certificate.
                let output = try await Broker.runOffPool(
                    Fleet.binary,
                    [
                        "admission", "--port", "0", "--tls-certificate", certificates.certificate, "--tls-key",
                        certificates.directory.appendingPathComponent("ca.key").path, "--insecure-no-auth",
                    ])
                Issue.record("admission started with a key that does not fit its certificate: \(output)")
            } catch {
                #expect("\(error)".contains("does not fit the certificate"), "\(error)")
            }
        }
    }
}
