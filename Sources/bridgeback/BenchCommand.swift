import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures and compare against a baseline measured in the same run.",
        subcommands: [AMQPBenchCommand.self, PolicyBenchCommand.self, FleetBenchCommand.self]
    )
}
