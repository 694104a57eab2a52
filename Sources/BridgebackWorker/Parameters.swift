public import BridgebackCore

/// Validates a job's parameters against a recipe's declarations with the grammar admission uses
/// (``ParameterSpec/validate(_:against:recipe:paths:)``), resolving `path` values on this host.
/// Every problem is reported; the error names the first parameter.
public func validateParameters(
    _ params: [String: JSONValue], against specs: [ParameterSpec], recipe: String
) throws(WorkerError) -> [String: ParameterValue] {
    do {
        return try ParameterSpec.validate(params, against: specs, recipe: recipe, paths: .resolve)
    } catch {
        throw WorkerError(.invalidParameter, error.message, recipe: recipe, field: error.parameter)
    }
}
