import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The dashboard's session cookie from the real coordinator binary over HTTPS: it is `Secure`,
/// and rotating then revoking the token with `bridgeback principals` ends the old token's
/// session (the coordinator reloads the principals file) while the new token's stays.
extension BrokerBacked {
    @Suite(.serialized)
    struct DashboardSessionIntegrationTests {
        struct Answer {
            var status: Int
            var setCookie: String?
            var location: String?
        }

        static func call(
            _ client: HTTPClient, _ url: String, cookie: String? = nil, form: String? = nil
        ) async throws -> Answer {
            var request = HTTPClientRequest(url: url)
            if form != nil { request.method = .POST }
            request.headers.add(name: "Accept", value: "text/html")
            if let cookie { request.headers.add(name: "Cookie", value: "bb_dashboard=\(cookie)") }
            if let form {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: form))
            }
            let response = try await client.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return Answer(
                status: Int(response.status.code), setCookie: response.headers.first(name: "Set-Cookie"),
                location: response.headers.first(name: "Location"))
        }

        /// The session id in a `Set-Cookie: bb_dashboard=…` value.
        static func session(_ answer: Answer) throws -> String {
            let value = try #require(answer.setCookie, "no Set-Cookie (HTTP \(answer.status))")
            return String(value.prefix { $0 != ";" }.dropFirst("bb_dashboard=".count))
        }

        @Test func overHTTPSTheCookieIsSecureAndARevokedTokenEndsItsSession() async throws {
            try await withFleet("dash-session") { fleet in
                let certificates = try TestCertificates.make(in: fleet.directory)
                try await fleet.prepareBroker()
                try await fleet.startReceiver()  // writes the surface registry
                let coordinator = try fleet.start(
                    "coordinator",
                    [
                        "coordinator", "--data-dir", fleet.directory.appendingPathComponent("coordinator").path, "--surfaces",
                        fleet.surfacesFile.path, "--http-port", "0", "--principals", fleet.principalsFile.path,
                        "--tls-certificate", certificates.certificate, "--tls-key", certificates.key,
                    ],
                    amqpURL: fleet.amqpURL("BRIDGEBACK_COORDINATOR_AMQP_URL"))
                try await coordinator.waitForLog("coordinator consuming")
                let base = "https://127.0.0.1:\(try await coordinator.waitForPort())"
                let client = TestCertificates.client(trusting: certificates.ca)
                do { try await Self.signInRotateRevoke(fleet, base: base, client: client) } catch {
                    try? await client.shutdown()
                    throw error
                }
                try await client.shutdown()
            }
        }

        static func signInRotateRevoke(_ fleet: Fleet, base: String, client: HTTPClient) async throws {
            // Sign in over HTTPS: the cookie is Secure (and HttpOnly, SameSite=Strict).
            let signIn = try await Self.call(client, "\(base)/dashboard/login", form: "token=\(fleet.token)")
            #expect(signIn.status == 303 && signIn.location == "/dashboard")
            let cookie = try #require(signIn.setCookie)
            #expect(cookie.hasSuffix("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
            let oldSession = try Self.session(signIn)
            #expect(try await Self.call(client, "\(base)/dashboard", cookie: oldSession).status == 200)

            // Rotate: a second token for the principal, written by the CLI; it signs in too.
            let newTokenFile = fleet.directory.appendingPathComponent("new-token")
            _ = try await Broker.runOffPool(
                Fleet.binary,
                ["principals", "rotate", "--file", fleet.principalsFile.path, "--name", "fleet", "--token-out", newTokenFile.path])
            let newToken = try String(contentsOf: newTokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            var newSession = ""
            try await eventually("the coordinator accepts the rotated-in token", timeout: .seconds(10)) {
                let answer = try await Self.call(client, "\(base)/dashboard/login", form: "token=\(newToken)")
                guard answer.status == 303 else { return false }
                newSession = try Self.session(answer)
                return true
            }

            // Revoke the old token: its session ends within a second or two; the new one's stays.
            _ = try await Broker.runOffPool(
                Fleet.binary, ["principals", "revoke", "--file", fleet.principalsFile.path, "--name", "fleet", "--token-id", "tok_fleet"])
            try await eventually("the revoked token's session ends", timeout: .seconds(5)) {
                let answer = try await Self.call(client, "\(base)/dashboard", cookie: oldSession)
                return answer.status == 303 && answer.location == "/dashboard/login"
            }
            #expect(try await Self.call(client, "\(base)/dashboard", cookie: newSession).status == 200)
            let again = try await Self.call(client, "\(base)/dashboard/login", form: "token=\(fleet.token)")
            #expect(again.status == 401 && again.setCookie == nil, "the revoked token cannot sign in again")
        }

        /// GET `path` with the fleet's token over plain HTTP; the status code.
        static func status(_ port: Int, _ path: String, token: String?) async throws -> Int {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let (_, response) = try await URLSession.shared.data(for: request)
            return (response as? HTTPURLResponse)?.statusCode ?? 0
        }

        @Test func noDashboardKeepsTheStatusAPIAndNoHTTPServesNothing() async throws {
            try await withFleet("dash-off") { fleet in
                try await fleet.prepareBroker()
                try await fleet.startReceiver()
                let arguments = [
                    "coordinator", "--data-dir", fleet.directory.appendingPathComponent("coordinator").path, "--surfaces",
                    fleet.surfacesFile.path, "--http-port", "0", "--principals", fleet.principalsFile.path,
                ]
                let noDashboard = try fleet.start(
                    "coordinator", arguments + ["--no-dashboard"], amqpURL: fleet.amqpURL("BRIDGEBACK_COORDINATOR_AMQP_URL"))
                try await noDashboard.waitForLog("coordinator consuming")
                let port = try await noDashboard.waitForPort()
                #expect(try await Self.status(port, "/v1/deliveries", token: fleet.token) == 200, "the status API stays")
                #expect(try await Self.status(port, "/dashboard", token: fleet.token) == 404)
                #expect(try await Self.status(port, "/dashboard/login", token: nil) == 401, "no sign-in form either")
                noDashboard.kill(SIGKILL)
                noDashboard.waitForExit()

                let noHTTP = try fleet.start(
                    "coordinator-no-http", arguments + ["--no-http"], amqpURL: fleet.amqpURL("BRIDGEBACK_COORDINATOR_AMQP_URL"))
                try await noHTTP.waitForLog("coordinator consuming")
                try await Task.sleep(for: .seconds(1))
                #expect(!noHTTP.ownOutput.contains("status listening") && !noHTTP.ownOutput.contains("http.port="), "\(noHTTP.ownOutput)")
            }
        }
    }
}
