import ArgumentParser

/// The `porten` executable: the Hub, the node agent, the embedded dev setup and the admin client.
@main
struct Porten: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "porten",
        abstract: "OpenAI-compatible inference routed across a fleet of nodes.",
        subcommands: [
            HubCommand.self, NodeCommand.self, LoginCommand.self, EnrollCommand.self, LogoutCommand.self, ServiceCommand.self, DevCommand.self,
            AdminCommand.self,
        ])
}
