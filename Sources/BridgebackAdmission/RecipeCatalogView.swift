public import BridgebackCore
public import Foundation

/// What admission needs to know about the worker's recipe catalog: which recipes exist and
/// which parameters each declares, so a bad request is refused at the door (422) instead of
/// failing on a worker minutes later.
///
/// It reads the worker's catalog file (`deploy/local/recipes.json`, docs/worker.md) through the
/// same grammar the worker uses, ``RecipeCatalogDocument``, and checks parameters with the same
/// ``ParameterSpec`` rules, so admission and the worker cannot disagree about a catalog or a
/// request. The one difference: admission checks `path` values as text (absolute, no `..`, under
/// a root); the worker also resolves symlinks on its own host. What a recipe does (argv, steps,
/// probes) is the worker's business and is not checked here.
public struct RecipeCatalogView: Sendable {
    /// One recipe: its name and declared parameters.
    public struct Recipe: Sendable {
        public var name: String
        public var params: [ParameterSpec]

        public init(name: String, params: [ParameterSpec] = []) {
            self.name = name
            self.params = params
        }
    }

    public let recipes: [String: Recipe]
    /// The catalog's own default for free-text detaches (`default_recipe`), if it names one.
    public let defaultRecipe: String?

    public init(recipes: [Recipe], defaultRecipe: String? = nil) {
        self.recipes = Dictionary(recipes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.defaultRecipe = defaultRecipe
    }

    /// Loads the catalog file; errors name the file and what is wrong with it.
    public static func load(contentsOf url: URL) throws(AdmissionError) -> RecipeCatalogView {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AdmissionError(.invalidRequest, "cannot read recipe catalog at \(url.path): \(error.localizedDescription)")
        }
        do { return try parse(data) } catch {
            throw AdmissionError(error.code, "recipe catalog \(url.path): \(error.message)")
        }
    }

    /// Parses catalog JSON; every problem is listed, each naming its recipe and field.
    public static func parse(_ data: Data) throws(AdmissionError) -> RecipeCatalogView {
        let document = RecipeCatalogDocument.read(data)
        guard document.problems.isEmpty else {
            let lines = document.problems.map { "  - \($0)" }.joined(separator: "\n")
            throw AdmissionError(.invalidRequest, "\(document.problems.count) problem(s):\n\(lines)")
        }
        return RecipeCatalogView(
            recipes: document.entries.map { Recipe(name: $0.name, params: $0.parameters) }, defaultRecipe: document.defaultRecipe)
    }

    /// Checks an invocation against the catalog: the recipe exists, required parameters are
    /// present, types, allowed values, patterns and limits match, and nothing undeclared is passed.
    public func validate(_ invocation: RecipeInvocation) throws(AdmissionError) {
        guard let recipe = recipes[invocation.name] else {
            let known = recipes.keys.sorted().joined(separator: ", ")
            throw AdmissionError(
                .unknownRecipe, "recipe '\(invocation.name)' is not in the worker catalog; known recipes: \(known)", field: "recipe.name")
        }
        do {
            _ = try ParameterSpec.validate(invocation.params, against: recipe.params, recipe: recipe.name, paths: .lexical)
        } catch {
            throw AdmissionError(.invalidRecipeParams, error.message, field: "recipe.params")
        }
    }
}
