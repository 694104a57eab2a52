import AsyncHTTPClient
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension BrokerBacked {
    /// `bridgeback mcp --transport http` starts only behind a principals file, serves HTTPS with
    /// admission's TLS options, and authenticates with the principals (docs/assistants.md, "The
    /// HTTP transport"). No broker or admission is needed: no --parent, no tool call.
    @Suite(.serialized)
    struct MCPHTTPSTests {
        @Test func theHTTPTransportNeedsPrincipalsServesHTTPSAndRefusesUnknownTokens() async throws {
            try await withFleet("mcphttps") { fleet in
                let base = ["mcp", "--transport", "http", "--port", "0", "--origin", "cli:\(fleet.parent)", "--coordinator", ""]
                // Refused at start: no principals file; the removed shared-token option.
                for (extra, expected) in [
                    ([String](), "needs a principals file"),
                    (["--principals", fleet.principalsFile.path, "--http-token-file", fleet.tokenFile.path], "were removed"),
                ] {
                    do {
                        let output = try await Broker.runOffPool(Fleet.binary, base + extra, environment: ["BRIDGEBACK_PRINCIPALS": ""])
                        Issue.record("bridgeback mcp started with \(extra): \(output)")
                    } catch {
                        #expect("\(error)".contains(expected), "\(error)")
                    }
                }

                let certificates = try TestCertificates.make(in: fleet.directory)
                let mcp = try fleet.start(
                    "mcp",
                    base + [
                        "--principals", fleet.principalsFile.path, "--tls-certificate", certificates.certificate, "--tls-key",
                        certificates.key,
                    ])
                let port = try await mcp.waitForPort()
                #expect(mcp.ownOutput.contains("tls=true"), "\(mcp.ownOutput.suffix(500))")
                let client = TestCertificates.client(trusting: certificates.ca)
                let url = "https://127.0.0.1:\(port)"
                let health = try await TestCertificates.get("\(url)/health", with: client).get()
                let noToken = try await TestCertificates.get("\(url)/mcp", with: client).get()
                let unknown = try await TestCertificates.get("\(url)/mcp", with: client, token: "bbt_" + String(repeating: "x", count: 43))
                    .get()
                // A principal's token passes authentication; a GET without a session is then the MCP layer's 400.
                let known = try await TestCertificates.get("\(url)/mcp", with: client, token: fleet.token).get()
                let statuses: [Int] = [health, noToken, unknown, known]
                let expected: [Int] = [200, 401, 401, 400]
                #expect(statuses == expected)
                try await client.shutdown()
                var plain = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/health")!)
                plain.timeoutInterval = 10
                do {
                    let (_, response) = try await URLSession.shared.data(for: plain)
                    Issue.record("plain HTTP got HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0) from the TLS port")
                } catch {}
                #expect(mcp.ownOutput.contains("authentication failed"), "the refused attempts are logged")

                // Plain HTTP on a non-loopback address starts (a TLS proxy may be in front) and says so.
                let open = try fleet.start("mcp-open", base + ["--principals", fleet.principalsFile.path, "--host", "0.0.0.0"])
                _ = try await open.waitForPort()
                #expect(open.ownOutput.contains("plain HTTP on a non-loopback address"), "\(open.ownOutput.suffix(500))")
            }
        }
    }
}
