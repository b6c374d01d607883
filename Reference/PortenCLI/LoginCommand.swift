import ArgumentParser
import Foundation

/// `porten login`: makes this machine a node of your account through the browser (RFC 8628):
/// prints a short code and a URL, waits while you approve it in the portal, and stores the
/// node's credential in node.json. No token to paste.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login", abstract: "Connect this machine to your account: approve a short code in the browser.")

    @Option(help: "The Hub's URL (env PORTEN_HUB_URL), e.g. https://hub.example.com.") var hub: String?
    @Option(help: "Name for the node (default: this machine's host name); you can change it when approving.") var name: String?
    @Flag(help: "Log in again even if node.json already holds a credential for this Hub.") var force = false

    func run() async throws {
        var config = try NodeConfigFile.load() ?? NodeConfigFile()
        let base = try hubBase(hub, config: config)
        if !force, config.credential != nil, config.hubURL == base {
            Console.write("Already logged in to \(base) as node \(config.nodeName ?? "?") (\(config.nodeID ?? "?")). Use --force to log in again.")
            return
        }
        let machine = String((name ?? ProcessInfo.processInfo.hostName).prefix(200))
        let (status, start) = try await HubCall.post(base + "/node/v1/device/code", form: ["client_id": "porten", "name": machine])
        guard status == 200, let deviceCode = start["device_code"] as? String, let userCode = start["user_code"] as? String,
            let uri = start["verification_uri"] as? String
        else { throw ValidationError("The Hub refused the login (\(status)): \(Self.message(start))") }
        var interval = max(1, start["interval"] as? Int ?? 5)
        let expiresIn = start["expires_in"] as? Int ?? 600
        Console.write(
            """
            To connect this machine to your Porten account, open

                \(start["verification_uri_complete"] as? String ?? uri)

            on any device, sign in, and approve the code

                \(userCode)

            (or open \(uri) and type it). The code expires in \(expiresIn / 60) minutes. Waiting…
            """)
        while true {
            try await Task.sleep(for: .seconds(interval))
            let (status, answer) = try await HubCall.post(
                base + "/node/v1/device/token",
                form: ["grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": deviceCode, "client_id": "porten"])
            if status == 200, let credential = answer["credential"] as? String {
                try config.saveCredential(credential, hub: base, answer: answer)
                Console.write(
                    "Logged in: node \(config.nodeName ?? "") (\(config.nodeID ?? "")) of account \(answer["account_id"] as? String ?? "?"), "
                        + "region \(answer["region"] as? String ?? "?"), "
                        + "trust class \(answer["trust_class"] as? String ?? "?"). Saved to \(NodeConfigFile.path).\n"
                        + "Run it now with `porten node`, or as a service with `porten service install`.")
                return
            }
            switch answer["error"] as? String {
            case "authorization_pending": continue
            case "slow_down": interval = max(interval + 5, answer["interval"] as? Int ?? 0)
            case "access_denied": throw LoginFailure("The code was denied in the browser. Nothing was saved.")
            case "expired_token": throw LoginFailure("The code expired before anyone approved it. Run porten login again.")
            default: throw LoginFailure("The Hub refused the login (\(status)): \(Self.message(answer))")
            }
        }
    }

    static func message(_ body: [String: Any]) -> String {
        (body["error_description"] as? String) ?? ((body["error"] as? [String: Any])?["message"] as? String) ?? (body["error"] as? String)
            ?? "no details"
    }
}

/// A login or enrollment that ended without a credential: the message, and exit status 1.
struct LoginFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `porten enroll <token>`: a machine joins an account with an enrollment token minted at
/// `/earn/add` (scripted provisioning, no browser).
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll", abstract: "Connect this machine to an account with an enrollment token from /earn/add.")

    @Argument(help: "The enrollment token (penroll-…).") var token: String
    @Option(help: "The Hub's URL (env PORTEN_HUB_URL).") var hub: String?
    @Option(help: "Name for the node (default: the token's prefix and a number).") var name: String?

    func run() async throws {
        var config = try NodeConfigFile.load() ?? NodeConfigFile()
        let base = try hubBase(hub, config: config)
        var body: [String: Any] = ["token": token]
        if let name { body["name"] = name }
        let (status, answer) = try await HubCall.post(base + "/node/v1/enroll", json: body)
        guard status == 201, let credential = answer["credential"] as? String else {
            throw LoginFailure("The Hub refused the enrollment (\(status)): \(LoginCommand.message(answer))")
        }
        try config.saveCredential(credential, hub: base, answer: answer)
        Console.write(
            "Enrolled: node \(config.nodeName ?? "") (\(config.nodeID ?? "")), region \(answer["region"] as? String ?? "?"). "
                + "Saved to \(NodeConfigFile.path). Next: porten service install")
    }
}

/// `porten logout`: forgets the node's credential (engine settings stay).
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Forget this machine's node credential.")

    func run() async throws {
        guard var config = try NodeConfigFile.load(), config.credential != nil else {
            Console.write("Not logged in (\(NodeConfigFile.path) holds no credential).")
            return
        }
        let node = config.nodeID ?? "?"
        config.credential = nil
        config.nodeID = nil
        config.nodeName = nil
        try config.save()
        Console.write("Logged out: forgot the credential of node \(node). An operator can revoke the node itself in the portal.")
    }
}
