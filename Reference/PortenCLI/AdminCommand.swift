import ArgumentParser
import Foundation
import PortenHub

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `porten admin …`: the operator's client for `/admin/v1`. Prints the Hub's JSON answers.
/// (`porten admin migrate` alone works on the databases directly, with the Hub stopped.)
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Manage accounts, users, API keys, nodes, credit and payouts of a Hub.",
        subcommands: [
            Accounts.self, Users.self, Keys.self, Nodes.self, EnrollmentTokens.self, UsageRows.self, Fleet.self, Credits.self, Ledger.self,
            Statement.self, PayoutAccounts.self, Payouts.self, Migrate.self,
        ])

    /// Where the Hub is and the operator token, shared by every admin subcommand.
    struct Connection: ParsableArguments {
        @Option(help: "Hub URL (env PORTEN_HUB_URL), default http://127.0.0.1:8080.") var hub: String?
        @Option(help: "Operator token (env PORTEN_ADMIN_TOKEN).") var token: String?

        /// Calls the admin API, prints its JSON answer and returns it.
        @discardableResult
        func call(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> Any? {
            let (data, status) = try await exchange(method, path, body: body)
            let text = String(decoding: data, as: UTF8.self)
            if let object = try? JSONSerialization.jsonObject(with: data),
                let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            {
                Console.write(String(decoding: pretty, as: UTF8.self))
            } else {
                Console.write(text)
            }
            guard (200..<300).contains(status) else { throw ExitCode(1) }
            return try? JSONSerialization.jsonObject(with: data)
        }

        /// The body of a GET (a CSV or XML file), failing on an error status.
        func text(_ path: String) async throws -> String {
            let (data, status) = try await exchange("GET", path, body: nil)
            guard (200..<300).contains(status) else {
                Console.write(String(decoding: data, as: UTF8.self))
                throw ExitCode(1)
            }
            return String(decoding: data, as: UTF8.self)
        }

        private func exchange(_ method: String, _ path: String, body: [String: Any]?) async throws -> (Data, Int) {
            var base = hub ?? environment("PORTEN_HUB_URL") ?? "http://127.0.0.1:8080"
            while base.hasSuffix("/") { base.removeLast() }
            if base.hasSuffix("/v1") { base.removeLast(3) }
            guard let token = token ?? environment("PORTEN_ADMIN_TOKEN") else {
                throw ValidationError("Missing --token (or PORTEN_ADMIN_TOKEN).")
            }
            guard let url = URL(string: base + "/admin/v1/" + path) else { throw ValidationError("Invalid hub URL '\(base)'.") }
            var request = URLRequest(url: url, timeoutInterval: 30)
            request.httpMethod = method
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            if let body {
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                request.httpBody = try JSONSerialization.data(withJSONObject: body)
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
        }
    }

    struct Accounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(subcommands: [Create.self, List.self, Disable.self])

        struct Create: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Argument(help: "Account name.") var name: String
            func run() async throws { try await connection.call("POST", "accounts", body: ["name": name]) }
        }

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            func run() async throws { try await connection.call("GET", "accounts") }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Disable an account: its keys and nodes stop working.")
            @OptionGroup var connection: Connection
            @Argument var id: String
            func run() async throws { try await connection.call("DELETE", "accounts/\(id)") }
        }
    }

    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Manage the people who sign in to the portal.", subcommands: [Create.self, List.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add a user and print a one-time link to set their password (valid 7 days).")
            @OptionGroup var connection: Connection
            @Option(help: "Their email address (the sign-in name).") var email: String
            @Option(help: "Display name (default: the email's local part).") var name: String?
            @Option(help: "Existing account id; without it the user gets a new account of their own.") var account: String?
            @Option(help: "member or owner (default: owner of a new account, member of an existing one).") var role: String?
            @Flag(help: "Make them an operator: they see the /admin pages.") var `operator` = false
            func run() async throws {
                var body: [String: Any] = ["email": email, "operator": `operator`]
                if let name { body["display_name"] = name }
                if let account { body["account_id"] = account }
                if let role { body["role"] = role }
                let answer = try await connection.call("POST", "users", body: body)
                if let link = (answer as? [String: Any])?["set_password_url"] as? String {
                    Console.write("\nOne-time link to set the password (valid 7 days):\n\(link)")
                }
            }
        }

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Option(help: "Only this account's users.") var account: String?
            func run() async throws { try await connection.call("GET", "users" + (account.map { "?account_id=\($0)" } ?? "")) }
        }
    }

    struct EnrollmentTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enrollment-tokens", abstract: "Tokens that enroll machines as nodes of an account (porten enroll <token>).",
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Mint a token; it is shown once.")
            @OptionGroup var connection: Connection
            @Option(help: "Account id the nodes will belong to.") var account: String
            @Option(help: "How many machines it may enroll.") var uses = 1
            @Option(help: "Hours it stays valid.") var expiresInHours = 24
            @Option(help: "New nodes are named <prefix>-<n>.") var namePrefix = "node"
            func run() async throws {
                try await connection.call(
                    "POST", "enrollment-tokens",
                    body: ["account_id": account, "uses": uses, "expires_in": expiresInHours * 3600, "name_prefix": namePrefix])
            }
        }

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Option(help: "Only this account's tokens.") var account: String?
            func run() async throws { try await connection.call("GET", "enrollment-tokens" + (account.map { "?account_id=\($0)" } ?? "")) }
        }

        struct Revoke: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Argument var id: String
            func run() async throws { try await connection.call("DELETE", "enrollment-tokens/\(id)") }
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(subcommands: [Create.self, List.self, Update.self, Revoke.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create an API key, with its policy; the key is shown once.")
            @OptionGroup var connection: Connection
            @Option(help: "Account id.") var account: String
            @Option(help: "Key name.") var name = "default"
            @OptionGroup var policy: KeyPolicyOptions
            func run() async throws {
                try await connection.call("POST", "keys", body: policy.fields.merging(["account_id": account, "name": name]) { $1 })
            }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a key's policy; it applies from the key's next request.")
            @OptionGroup var connection: Connection
            @Argument var id: String
            @OptionGroup var policy: KeyPolicyOptions
            func run() async throws { try await connection.call("PATCH", "keys/\(id)", body: policy.fields) }
        }

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Option(help: "Only this account's keys.") var account: String?
            func run() async throws { try await connection.call("GET", "keys" + (account.map { "?account_id=\($0)" } ?? "")) }
        }

        struct Revoke: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Argument var id: String
            func run() async throws { try await connection.call("DELETE", "keys/\(id)") }
        }
    }

    struct Nodes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(subcommands: [Add.self, List.self, Update.self, Revoke.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Add a node; its credential is shown once.")
            @OptionGroup var connection: Connection
            @Option(help: "Owning account id.") var account: String
            @Option(help: "Node name.") var name = "node"
            @Option(help: "Region code set by the operator, e.g. eu or eu-de.") var region = "local"
            @Option(help: "community, verified, trusted or confidential.") var trustClass = "community"
            func run() async throws {
                try await connection.call(
                    "POST", "nodes", body: ["account_id": account, "name": name, "region": region, "trust_class": trustClass])
            }
        }

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            func run() async throws { try await connection.call("GET", "nodes") }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Change a node's region or trust class (the node reconnects).")
            @OptionGroup var connection: Connection
            @Argument var id: String
            @Option(help: "Region code.") var region: String?
            @Option(help: "community, verified, trusted or confidential.") var trustClass: String?
            func run() async throws {
                var body: [String: Any] = [:]
                if let region { body["region"] = region }
                if let trustClass { body["trust_class"] = trustClass }
                try await connection.call("PATCH", "nodes/\(id)", body: body)
            }
        }

        struct Revoke: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Argument var id: String
            func run() async throws { try await connection.call("DELETE", "nodes/\(id)") }
        }
    }

    struct Fleet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show connected nodes, their models and the demand per model.")
        @OptionGroup var connection: Connection
        func run() async throws { try await connection.call("GET", "fleet") }
    }

    struct UsageRows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "usage", abstract: "Show recent usage rows.")
        @OptionGroup var connection: Connection
        @Option(help: "How many rows.") var limit = 20
        func run() async throws { try await connection.call("GET", "usage?limit=\(limit)") }
    }

    struct Credits: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant credit to an account.", subcommands: [Add.self])

        struct Add: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Option(help: "Account id.") var account: String
            @Option(help: "Amount, a decimal such as 10.50.") var amount: String
            @Option(help: "A note kept with the posting.") var memo: String?
            func run() async throws {
                var body: [String: Any] = ["account_id": account, "amount": amount]
                if let memo { body["memo"] = memo }
                try await connection.call("POST", "credits", body: body)
            }
        }
    }

    struct Ledger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show ledger postings, newest first.")
        @OptionGroup var connection: Connection
        @Option(help: "Only this ledger account (an account id, platform, external, payable:<id>).") var account: String?
        @Option(help: "How many postings.") var limit = 100
        @Flag(help: "CSV instead of JSON.") var csv = false
        func run() async throws {
            var path = "ledger?limit=\(limit)" + (account.map { "&account=\(Self.encode($0))" } ?? "")
            if csv {
                path += "&format=csv"
                FileHandle.standardOutput.write(Data(try await connection.text(path).utf8))
            } else {
                try await connection.call("GET", path)
            }
        }

        static func encode(_ value: String) -> String { value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value }
    }

    struct Statement: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An account's postings in a month, with opening and closing balance.")
        @OptionGroup var connection: Connection
        @Option(help: "Account id.") var account: String
        @Option(help: "YYYY-MM.") var period: String
        @Flag(help: "CSV instead of JSON.") var csv = false
        func run() async throws {
            let path = "statement?account_id=\(Ledger.encode(account))&period=\(Ledger.encode(period))"
            if csv {
                FileHandle.standardOutput.write(Data(try await connection.text(path + "&format=csv").utf8))
            } else {
                try await connection.call("GET", path)
            }
        }
    }

    struct PayoutAccounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "payout-accounts", abstract: "Set where an account's earnings are paid.", subcommands: [Set.self])

        struct Set: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Option(help: "Account id.") var account: String
            @Option(help: "Account holder's name.") var holder: String
            @Option(help: "IBAN.") var iban: String
            @Option(help: "BIC.") var bic: String
            func run() async throws {
                try await connection.call("PUT", "payout-accounts/\(account)", body: ["holder": holder, "iban": iban, "bic": bic])
            }
        }
    }

    struct Payouts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pay earnings: run a period, write its SEPA file, mark payouts paid or failed.", subcommands: [Run.self, List.self, Mark.self])

        struct Run: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create the period's payouts (once) and write payouts-<period>.xml (SEPA pain.001.001.03) and .csv.")
            @OptionGroup var connection: Connection
            @Option(help: "The month, YYYY-MM.") var period: String
            @Option(help: "Smallest payout, a decimal such as 10.") var minimum = "0"
            @Option(help: "Who pays: the platform's account holder name.") var debtorName: String
            @Option(help: "The platform's IBAN.") var debtorIban: String
            @Option(help: "The platform's BIC.") var debtorBic: String
            @Option(help: "Directory for the files.") var out = "."
            @Flag(help: "Run a month that has not ended (its later earnings will not be paid).") var allowOpenPeriod = false
            func run() async throws {
                try await connection.call(
                    "POST", "payouts/run",
                    body: ["period": period, "minimum": minimum, "debtor_name": debtorName, "debtor_iban": debtorIban, "debtor_bic": debtorBic,
                           "allow_open_period": allowOpenPeriod])
                let query = "?period=\(Ledger.encode(period))"
                guard let xml = try? await connection.text("payouts/sepa" + query) else { return }
                let base = (out as NSString).appendingPathComponent("payouts-\(period)")
                try xml.write(toFile: base + ".xml", atomically: true, encoding: .utf8)
                try await connection.text("payouts/csv" + query).write(toFile: base + ".csv", atomically: true, encoding: .utf8)
                Console.write("Wrote \(base).xml and \(base).csv")
            }
        }

        struct List: AsyncParsableCommand {
            @OptionGroup var connection: Connection
            @Option(help: "Only this period, YYYY-MM.") var period: String?
            func run() async throws { try await connection.call("GET", "payouts" + (period.map { "?period=\(Ledger.encode($0))" } ?? "")) }
        }

        struct Mark: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Record that the bank paid (or failed) a payout.")
            @OptionGroup var connection: Connection
            @Argument var id: String
            @Flag(help: "The bank paid it.") var paid = false
            @Flag(help: "The transfer failed: the amount returns to the account's earnings.") var failed = false
            func validate() throws {
                guard paid != failed else { throw ValidationError("Pass exactly one of --paid or --failed.") }
            }
            func run() async throws { try await connection.call("POST", "payouts/\(id)", body: ["status": paid ? "paid" : "failed"]) }
        }
    }

    /// `porten admin migrate …`: unlike the other admin commands, talks to the databases, not to a Hub.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a Hub's data to another database. Works on the databases directly, not through a running Hub: stop the Hub first.",
            subcommands: [SQLiteToPostgres.self])

        struct SQLiteToPostgres: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "sqlite-to-postgres",
                abstract: "Copy a Hub's SQLite database into a new, empty PostgreSQL database, in one transaction (all or nothing).",
                discussion: """
                    Works on the databases directly, not through a running Hub: stop the Hub first, then start it again with \
                    --database-url. The SQLite database is only read (it stays as it was: keep it as the backup). The PostgreSQL \
                    database is migrated first and must hold no data; the copy never merges. Keys, node credentials, sessions and \
                    the ledger carry over unchanged.
                    """)

            @Option(help: "The Hub's data directory, whose SQLite database (porten.db) is copied; default .data/hub, as for porten hub.")
            var dataDir: String?
            @Option(help: "The SQLite database file to copy, instead of the one in --data-dir.") var sqlite: String?
            @Option(help: "The PostgreSQL database to fill, postgres://user:password@host:5432/database[?sslmode=require] (env PORTEN_DATABASE_URL).")
            var databaseURL: String?
            @OptionGroup var logging: LoggingOptions

            func validate() throws {
                guard dataDir == nil || sqlite == nil else { throw ValidationError("Pass --data-dir or --sqlite, not both.") }
                guard databaseURL ?? environment("PORTEN_DATABASE_URL") != nil else {
                    throw ValidationError("Missing --database-url (or PORTEN_DATABASE_URL): the PostgreSQL database to copy into.")
                }
            }

            func run() async throws {
                let url = databaseURL ?? environment("PORTEN_DATABASE_URL") ?? ""
                let path: String
                if let sqlite {
                    path = sqlite
                } else {
                    let directory = dataDir ?? ".data/hub"
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                        throw CLIError("There is no data directory at \(directory): pass the Hub's --data-dir, or the database file with --sqlite.")
                    }
                    path = try DataDirectory(directory).databasePath
                }
                guard FileManager.default.fileExists(atPath: path) else {
                    throw CLIError("There is no SQLite database at \(path): pass the Hub's --data-dir, or the database file with --sqlite.")
                }
                let logger = logging.makeLogger("porten.migrate")
                let source = try SQLiteStore.openReadOnly(path: path)
                let target: PostgresStore
                do { target = try PostgresStore(url: url, logger: logger) } catch { throw ValidationError("--database-url: \(error)") }
                Console.write("Copying \(path) into \(target.endpoint)…")
                let started = ContinuousClock.now
                let copied = try await target.withRunning { try await StoreCopy.sqliteToPostgres(from: source, to: target) }
                let seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
                let width = StoreCopy.tables.map(\.count).max() ?? 0
                for table in StoreCopy.tables {
                    Console.write(table.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(copied[table] ?? 0))
                }
                let rows = copied.values.reduce(0, +)
                Console.write(
                    "Copied \(rows) row\(rows == 1 ? "" : "s") of \(copied.count) tables into \(target.endpoint) in "
                        + String(format: "%.1f", seconds) + " s; start the Hub with --database-url to use it.")
            }
        }
    }
}
