import Foundation
import OpenAIWire

/// The Hub's durable state: accounts, keys, nodes, catalog switches, usage, people, enrollment and
/// the ledger. One implementation per database engine (``SQLiteStore`` embedded, ``PostgresStore``
/// for replicas); every one passes the same contract suite (`StoreContractTests`). Every call is
/// async: a request never blocks a thread on the database, but for one exception, SQLite's usage
/// rows (``insertsUsageInPlace``). Times are passed in (`now:`) where they
/// decide something, so tests set them; the `HubStore+Now` forms use the wall clock.
public protocol HubStore: Sendable {
    /// Names of the migrations applied, in order.
    func appliedMigrations() async throws -> [String]

    // MARK: Accounts
    func createAccount(name: String, now: Date) async throws -> Account
    func accounts() async throws -> [Account]
    func account(id: String) async throws -> Account?
    /// Disables account `id`: its keys, nodes and sessions stop working. False when there is no such account.
    func disableAccount(id: String, now: Date) async throws -> Bool

    // MARK: Catalog
    func replaceCatalog(_ catalog: Catalog) async throws
    func setModelEnabled(_ modelID: String, _ enabled: Bool, now: Date) async throws
    /// `catalog` with the operator's on/off switches applied.
    func applyingSwitches(to catalog: Catalog) async throws -> Catalog
    func catalog() async throws -> Catalog

    // MARK: API keys
    /// Creates a key for `accountID`; the plain key is in the returned token and nowhere else.
    func createKey(accountID: String, name: String, policy: KeyPolicy, now: Date) async throws -> (key: APIKey, token: SecretToken)
    func keys(accountID: String?) async throws -> [APIKey]
    /// Changes the policy of key `id` with `change` (given the current one), in one transaction.
    func updateKeyPolicy(id: String, _ change: @escaping @Sendable (KeyPolicy) throws -> KeyPolicy) async throws -> APIKey
    func revokeKey(id: String, now: Date) async throws -> Bool
    /// The live key `presented` names (not revoked, account not disabled), or nil. A change made
    /// anywhere applies within a second.
    func authenticateKey(_ presented: String) async throws -> AuthenticatedKey?
    /// The account's playground key, created on first use (one, however many ask at once).
    func playgroundKey(accountID: String, now: Date) async throws -> AuthenticatedKey

    // MARK: Nodes
    func createNode(accountID: String, name: String, region: String, trustClass: String, now: Date) async throws -> (
        node: NodeRecord, credential: SecretToken
    )
    func nodes() async throws -> [NodeRecord]
    func updateNode(id: String, region: String?, trustClass: String?) async throws -> NodeRecord
    func revokeNode(id: String, now: Date) async throws -> Bool
    /// The live node `presented` is the credential of, or nil.
    func authenticateNode(_ presented: String) async throws -> NodeRecord?
    func markNodeSeen(id: String, now: Date) async throws

    // MARK: Usage
    /// Inserts usage rows and posts their charges to the ledger, in one transaction.
    func insertUsage(_ records: [UsageRecord], ledger: LedgerPolicy) async throws
    /// True when ``insertUsage(_:ledger:)`` does its work on the calling thread and cannot be
    /// interrupted by the task's cancellation: a request that commits its usage may then write the
    /// batch itself instead of waking the recorder (``UsageRecorder``).
    var insertsUsageInPlace: Bool { get }
    func recentUsage(limit: Int, keyID: String?) async throws -> [UsageRecord]
    func dailyUsage(accountID: String, since: Date) async throws -> [DailyUsage]
    /// Tokens (prompt + completion) each node of the account served since `since`.
    func tokensServed(accountID: String, since: Date) async throws -> [String: Int]

    // MARK: People and sessions
    func createUser(
        accountID: String?, email: String, displayName: String, role: User.Role, isOperator: Bool, passwordHash: String?, now: Date
    ) async throws -> User
    func users(accountID: String?) async throws -> [User]
    func user(email: String) async throws -> User?
    func setPassword(userID: String, hash: String) async throws
    func createPasswordLink(userID: String, lifetime: TimeInterval, now: Date) async throws -> String
    func passwordLinkUser(_ token: String, now: Date) async throws -> User?
    func usePasswordLink(_ token: String, passwordHash: String, now: Date) async throws -> User?
    func createSession(userID: String, lifetime: TimeInterval, now: Date) async throws -> String
    func session(_ token: String, now: Date) async throws -> PortalIdentity?
    func deleteSession(_ token: String) async throws

    // MARK: Enrollment
    func startDeviceAuthorization(machineName: String, lifetime: TimeInterval, interval: Int, now: Date) async throws -> (
        deviceCode: String, authorization: DeviceAuthorization
    )
    func pendingDeviceAuthorization(userCode: String, now: Date) async throws -> DeviceAuthorization?
    func decideDeviceAuthorization(userCode: String, approve: Bool, by user: User, machineName: String, now: Date) async throws
        -> DeviceAuthorization?
    func pollDeviceAuthorization(deviceCode: String, policy: EnrollmentPolicy, now: Date) async throws -> DevicePoll
    func createEnrollmentToken(accountID: String, namePrefix: String, usesAllowed: Int, lifetime: TimeInterval, now: Date) async throws -> (
        token: EnrollmentToken, plain: String
    )
    func enrollmentTokens(accountID: String?) async throws -> [EnrollmentToken]
    func revokeEnrollmentToken(id: String, accountID: String?, now: Date) async throws -> Bool
    func enroll(token presented: String, machineName: String?, policy: EnrollmentPolicy, address: String?, now: Date) async throws -> (
        node: NodeRecord, credential: String
    )

    // MARK: Ledger and payouts
    func balance(_ ledgerAccount: String) async throws -> Money
    func grantCredit(accountID: String, amount: Money, memo: String?, now: Date) async throws -> String
    func ledgerEntries(account: String?, from: Date?, to: Date?, limit: Int) async throws -> [LedgerEntry]
    func ledgerTotal() async throws -> Int64
    func dailyEarnings(accountID: String, since: Date) async throws -> [(day: String, node: String, model: String, amount: Money)]
    func setPayoutAccount(accountID: String, holder: String, iban: String, bic: String, now: Date) async throws -> PayoutAccount
    func payoutAccount(accountID: String) async throws -> PayoutAccount?
    /// `reserved`: what running requests may still cost, per account (`--require-credit`); it is
    /// not paid out.
    func runPayouts(
        period: String, minimum: Money, debtor: (name: String, iban: String, bic: String), allowOpenPeriod: Bool, reserved: [String: Money],
        now: Date
    ) async throws -> (run: PayoutRun, payouts: [Payout], created: Bool)
    func payouts(period: String?, accountID: String?) async throws -> [Payout]
    func payoutRun(period: String) async throws -> PayoutRun?
    func settlePayout(id: String, paid: Bool, now: Date) async throws -> Payout?
}

extension HubStore {
    /// A new prefixed random id such as `acct_3Fz…`.
    static func newID(_ prefix: String) -> String { prefix + "_" + SecretToken.randomBase62(count: 16) }

    /// A new key's row and its token, not yet stored.
    static func newKey(accountID: String, name: String, policy: KeyPolicy = .unrestricted, now: Date) -> (key: APIKey, token: SecretToken) {
        let token = SecretToken.generate(prefix: SecretToken.apiKeyPrefix)
        var key = APIKey(
            id: Self.newID("key"), accountID: accountID, name: name, lookupID: token.lookupID, secretHash: Data(token.hash),
            displayPrefix: token.displayPrefix, createdAt: now, revokedAt: nil, allowedRegions: nil, minTrustClass: nil,
            ownNodesOnly: false, modelAllowlist: nil, requestsPerMinute: nil, tokensPerMinute: nil)
        key.policy = policy
        return (key, token)
    }

    // MARK: Ledger accounts besides the customers' own

    /// The operator's fees.
    static var platformLedger: String { "platform" }
    /// Money from and to outside: credit grants, payouts.
    static var externalLedger: String { "external" }
    /// What is owed to an account by a payout run, until it settles.
    static func payableLedger(_ accountID: String) -> String { "payable:" + accountID }
}

/// Why the store refused an operation.
public enum StoreError: Error, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    /// The database did not answer in time or cannot be reached: the Hub answers `503`.
    case unavailable(String)
    /// The database refused a statement for a reason of its own.
    case database(String)
    /// A value the database cannot hold (a NUL character in a lookup, say): a client's mistake.
    case invalidValue(String)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) does not exist"
        case .conflict(let what): "\(what) already exists"
        case .unavailable(let why): "the database is unavailable: \(why)"
        case .database(let why): "the database refused: \(why)"
        case .invalidValue(let why): "a value the database cannot hold: \(why)"
        case .invalidConfiguration(let why): why
        }
    }
}

extension APIError {
    /// The store could not be read or written: retry shortly (the cause is in the Hub's log).
    static func storeUnavailable(_ what: String = "The Hub's database") -> APIError {
        APIError(status: 503, message: "\(what) is unavailable; try again shortly.", type: "api_error", code: "store_unavailable", retryAfter: 1)
    }
}
