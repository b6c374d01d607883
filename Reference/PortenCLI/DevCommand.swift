import ArgumentParser
import Foundation
import Hummingbird
import PortenHub
import PortenNode

/// `porten dev`: a Hub on SQLite plus a local sim node, ready to call.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Run a Hub with a local sim node and print a base URL, an API key and a portal sign-in.")

    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Directory for the database and the dev secrets.") var dataDir = ".data/dev"
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.makeLogger("porten.dev")
        let openFiles = ProcessLimits.raiseOpenFiles()
        let data = try DataDirectory(dataDir)
        let adminToken = try data.adminToken(explicit: nil)
        var configuration = HubConfiguration(port: port, databasePath: data.databasePath, catalog: .reference, adminToken: adminToken)
        configuration.maximumConnections = ProcessLimits.defaultMaximumConnections(openFiles: openFiles)
        let store = try SQLiteStore.open(path: data.databasePath)
        let setup = try await DevSetup(store: store, data: data)
        let node = NodeAgent(
            hubURL: "http://127.0.0.1:\(port)", credential: setup.nodeCredential,
            engine: SimEngine(provisioning: SimProvisioning(vramBudgetMB: 8192, downloadMBps: 800, loadMBps: 3000)), logger: logger)
        let apiKey = setup.apiKey
        let signIn = setup.signIn
        let (application, _) = try await HubApplication.build(configuration: configuration, logger: logger, extraServices: [node]) { port in
            Console.write(
                """
                PORTEN_BASE_URL=http://127.0.0.1:\(port)/v1
                PORTEN_API_KEY=\(apiKey)
                PORTEN_ADMIN_TOKEN=\(adminToken)

                # Portal: http://127.0.0.1:\(port)/  (sign in as \(signIn.email), password \(signIn.password))

                # Porten dev hub with a local sim node (loaded: \(SimEngine.referenceModels.joined(separator: ", "));
                # ref-large loads on first use in about 6 s: watch http://127.0.0.1:\(port)/public/v1/models/warming?model=ref-large).
                # Try:  curl -N http://127.0.0.1:\(port)/v1/chat/completions -H "Authorization: Bearer \(apiKey)" \\
                #         -H 'Content-Type: application/json' \\
                #         -d '{"model":"ref-chat","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'
                # Stop with Ctrl-C.
                """)
        }
        try await application.runService()
    }
}

/// The dev account, API key and sim node, created once and reused from the data dir.
struct DevSetup {
    let apiKey: String
    let nodeCredential: String
    /// The dev user (an operator of the dev account) for the portal.
    let signIn: (email: String, password: String)
    static let devEmail = "dev@porten.test"

    init(store: any HubStore, data: DataDirectory) async throws {
        let existing = try await store.accounts().first { $0.name == "dev" && $0.disabledAt == nil }
        let account = if let existing { existing } else { try await store.createAccount(name: "dev") }
        if let key = data.read("dev-api-key"), try await store.authenticateKey(key) != nil {
            apiKey = key
        } else {
            apiKey = try await store.createKey(accountID: account.id, name: "dev").token.plain
            try data.write("dev-api-key", apiKey)
        }
        if let credential = data.read("dev-node-credential"), try await store.authenticateNode(credential) != nil {
            nodeCredential = credential
        } else {
            nodeCredential = try await store.createNode(accountID: account.id, name: "dev-sim", region: "local", trustClass: "trusted")
                .credential.plain
            try data.write("dev-node-credential", nodeCredential)
        }
        if let password = data.read("dev-password"), let user = try await store.user(email: Self.devEmail),
            let hash = user.passwordHash, PasswordHasher.verify(password, against: hash)
        {
            signIn = (Self.devEmail, password)
        } else {
            let password = SecretToken.randomBase62(count: 16)
            let hash = PasswordHasher.standard.hash(password)
            if let user = try await store.user(email: Self.devEmail) {
                try await store.setPassword(userID: user.id, hash: hash)
            } else {
                _ = try await store.createUser(
                    accountID: account.id, email: Self.devEmail, displayName: "Dev", role: .owner, isOperator: true, passwordHash: hash)
            }
            try data.write("dev-password", password)
            signIn = (Self.devEmail, password)
        }
    }
}
