import AsyncHTTPClient
import Foundation
import NIOCore

/// Where admission asks for the delivery side of a job's story: the coordinator's status API,
/// as the caller (its bearer token), so the coordinator applies the same principal.
public protocol DeliveryLookup: Sendable {
    /// `GET /v1/jobs/{id}/delivery`: its status and JSON body.
    func delivery(jobID: String, bearer: String) async throws -> (status: Int, body: [UInt8])
    /// `GET /v1/deliveries?limit=…[&surface=…]`: its status and JSON body.
    func deliveries(surface: String?, limit: Int, bearer: String) async throws -> (status: Int, body: [UInt8])
}

extension CoordinatorCancelClient: DeliveryLookup {
    public func delivery(jobID: String, bearer: String) async throws -> (status: Int, body: [UInt8]) {
        try await get("/v1/jobs/\(jobID)/delivery", bearer: bearer)
    }

    public func deliveries(surface: String?, limit: Int, bearer: String) async throws -> (status: Int, body: [UInt8]) {
        var components = URLComponents()
        components.queryItems =
            [URLQueryItem(name: "limit", value: String(limit))] + (surface.map { [URLQueryItem(name: "surface", value: $0)] } ?? [])
        return try await get("/v1/deliveries?\(components.percentEncodedQuery ?? "")", bearer: bearer)
    }

    /// One GET with the caller's token: 5 s to connect, 10 s in all, at most 16 MiB of answer (500 statuses).
    private func get(_ path: String, bearer: String) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: "\(baseURL)\(path)")
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .seconds(10))
        let answer = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (Int(response.status.code), Array(answer.readableBytesView))
    }
}
