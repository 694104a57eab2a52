extension AdmissionError.Code {
    /// Codes that refuse a contract (or the recipe it would run): what `contract_refusals` records.
    public var refusesContract: Bool {
        [.unknownSurface, .missingFinalSurface, .directNotAllowed, .invalidContract, .unknownRecipe, .invalidRecipeParams].contains(self)
    }
}
