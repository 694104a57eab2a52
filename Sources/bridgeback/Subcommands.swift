import ArgumentParser

/// Every subcommand of `bridgeback`, in the order `--help` lists them.
let allSubcommands: [any ParsableCommand.Type] = [
    TopologyCommand.self,
    ClassifyCommand.self,
    RoundTripCommand.self,
    BenchCommand.self,
]
