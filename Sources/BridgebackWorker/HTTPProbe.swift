import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Performs one HTTP probe. Redirects are not followed: a redirect could lead outside the
/// catalog's allowed hosts, so a 3xx is reported as the status it is.
enum HTTPProbe {
    static func run(_ spec: HTTPProbeSpec, url: URL) async throws(WorkerError) -> String {
        var request = URLRequest(url: url)
        request.httpMethod = spec.method
        request.timeoutInterval = Double(spec.timeout.components.seconds) + Double(spec.timeout.components.attoseconds) / 1e18
        let started = ContinuousClock.now
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch is CancellationError {
            throw WorkerError(.httpFailed, "\(spec.method) \(url.absoluteString) was cancelled")
        } catch {
            throw WorkerError(.httpFailed, "\(spec.method) \(url.absoluteString) failed: \(error.localizedDescription)")
        }
        let elapsed = ContinuousClock.now - started
        let millis = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        guard let http = response as? HTTPURLResponse else {
            throw WorkerError(.httpFailed, "\(spec.method) \(url.absoluteString) got a non-HTTP response")
        }
        guard spec.expectStatus.contains(http.statusCode) else {
            throw WorkerError(
                .httpFailed,
                "\(spec.method) \(url.absoluteString) answered HTTP \(http.statusCode), expected \(spec.expectStatus.map(String.init).joined(separator: " or "))"
            )
        }
        if let needle = spec.expectBodyContains {
            let body = String(decoding: data, as: UTF8.self)
            guard body.contains(needle) else {
                throw WorkerError(
                    .httpFailed,
                    "\(spec.method) \(url.absoluteString) answered HTTP \(http.statusCode) but the body does not contain \"\(needle)\"")
            }
        }
        return "HTTP \(http.statusCode) from \(spec.method) \(url.absoluteString) in \(millis) ms"
    }

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        return URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }()
}

/// Refuses every redirect. Stateless, so sharing it between threads is safe.
final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
