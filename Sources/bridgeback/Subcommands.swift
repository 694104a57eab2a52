import ArgumentParser

/// Every subcommand of `bridgeback`, in the order `--help` lists them.
let allSubcommands: [any ParsableCommand.Type] = [
    AdmissionCommand.self,
    WorkerCommand.self,
    CoordinatorCommand.self,
    JobsCommand.self,
    StatusCommand.self,
    DeliverCommand.self,
    WatchCommand.self,
    SubmitCommand.self,
    ReceiverCommand.self,
    TopologyCommand.self,
    PrincipalsCommand.self,
    LedgerCommand.self,
    ClassifyCommand.self,
    AuditCommand.self,
    MCPCommand.self,
    RoundTripCommand.self,
    BenchCommand.self,
]
