import Foundation

/// The store's operations at the wall clock's `now`, and with their usual defaults.
extension HubStore {
    public func createAccount(name: String) async throws -> Account { try await createAccount(name: name, now: Date()) }
    @discardableResult
    public func disableAccount(id: String) async throws -> Bool { try await disableAccount(id: id, now: Date()) }
    public func setModelEnabled(_ modelID: String, _ enabled: Bool) async throws { try await setModelEnabled(modelID, enabled, now: Date()) }

    public func createKey(accountID: String, name: String, policy: KeyPolicy = .unrestricted) async throws -> (key: APIKey, token: SecretToken) {
        try await createKey(accountID: accountID, name: name, policy: policy, now: Date())
    }
    public func keys() async throws -> [APIKey] { try await keys(accountID: nil) }
    @discardableResult
    public func revokeKey(id: String) async throws -> Bool { try await revokeKey(id: id, now: Date()) }
    public func playgroundKey(accountID: String) async throws -> AuthenticatedKey { try await playgroundKey(accountID: accountID, now: Date()) }

    public func createNode(accountID: String, name: String, region: String, trustClass: String) async throws -> (
        node: NodeRecord, credential: SecretToken
    ) {
        try await createNode(accountID: accountID, name: name, region: region, trustClass: trustClass, now: Date())
    }
    @discardableResult
    public func revokeNode(id: String) async throws -> Bool { try await revokeNode(id: id, now: Date()) }
    public func markNodeSeen(id: String) async throws { try await markNodeSeen(id: id, now: Date()) }

    public func insertUsage(_ records: [UsageRecord]) async throws { try await insertUsage(records, ledger: LedgerPolicy()) }
    public func recentUsage(limit: Int) async throws -> [UsageRecord] { try await recentUsage(limit: limit, keyID: nil) }

    public func createUser(
        accountID: String?, email: String, displayName: String, role: User.Role, isOperator: Bool = false, passwordHash: String? = nil
    ) async throws -> User {
        try await createUser(
            accountID: accountID, email: email, displayName: displayName, role: role, isOperator: isOperator, passwordHash: passwordHash, now: Date())
    }
    /// Open sign-up: a new account named after the person, with them as its owner.
    public func signUp(email: String, displayName: String, passwordHash: String, now: Date = Date()) async throws -> User {
        try await createUser(accountID: nil, email: email, displayName: displayName, role: .owner, isOperator: false, passwordHash: passwordHash, now: now)
    }
    public func users() async throws -> [User] { try await users(accountID: nil) }
    /// A one-time link to set a password, valid 7 days unless said otherwise.
    public func createPasswordLink(userID: String, lifetime: TimeInterval = 7 * 86_400) async throws -> String {
        try await createPasswordLink(userID: userID, lifetime: lifetime, now: Date())
    }
    public func passwordLinkUser(_ token: String) async throws -> User? { try await passwordLinkUser(token, now: Date()) }
    public func usePasswordLink(_ token: String, passwordHash: String) async throws -> User? {
        try await usePasswordLink(token, passwordHash: passwordHash, now: Date())
    }
    public func createSession(userID: String, lifetime: TimeInterval) async throws -> String {
        try await createSession(userID: userID, lifetime: lifetime, now: Date())
    }
    public func session(_ token: String) async throws -> PortalIdentity? { try await session(token, now: Date()) }

    public func startDeviceAuthorization(machineName: String, lifetime: TimeInterval, interval: Int = 5) async throws -> (
        deviceCode: String, authorization: DeviceAuthorization
    ) {
        try await startDeviceAuthorization(machineName: machineName, lifetime: lifetime, interval: interval, now: Date())
    }
    public func pendingDeviceAuthorization(userCode: String) async throws -> DeviceAuthorization? {
        try await pendingDeviceAuthorization(userCode: userCode, now: Date())
    }
    public func decideDeviceAuthorization(userCode: String, approve: Bool, by user: User, machineName: String) async throws -> DeviceAuthorization? {
        try await decideDeviceAuthorization(userCode: userCode, approve: approve, by: user, machineName: machineName, now: Date())
    }
    public func pollDeviceAuthorization(deviceCode: String, policy: EnrollmentPolicy) async throws -> DevicePoll {
        try await pollDeviceAuthorization(deviceCode: deviceCode, policy: policy, now: Date())
    }
    public func createEnrollmentToken(accountID: String, namePrefix: String, usesAllowed: Int, lifetime: TimeInterval) async throws -> (
        token: EnrollmentToken, plain: String
    ) {
        try await createEnrollmentToken(accountID: accountID, namePrefix: namePrefix, usesAllowed: usesAllowed, lifetime: lifetime, now: Date())
    }
    public func enrollmentTokens() async throws -> [EnrollmentToken] { try await enrollmentTokens(accountID: nil) }
    /// Revokes token `id` (only within `accountID` when given). - Returns: false when there is no such live token.
    @discardableResult
    public func revokeEnrollmentToken(id: String, accountID: String? = nil) async throws -> Bool {
        try await revokeEnrollmentToken(id: id, accountID: accountID, now: Date())
    }
    public func enroll(token presented: String, machineName: String?, policy: EnrollmentPolicy, address: String?) async throws -> (
        node: NodeRecord, credential: String
    ) {
        try await enroll(token: presented, machineName: machineName, policy: policy, address: address, now: Date())
    }

    public func grantCredit(accountID: String, amount: Money, memo: String?) async throws -> String {
        try await grantCredit(accountID: accountID, amount: amount, memo: memo, now: Date())
    }
    /// Postings, newest first, optionally of one ledger account and within `[from, to)`, at most 1000.
    public func ledgerEntries(account: String? = nil, from: Date? = nil, to: Date? = nil) async throws -> [LedgerEntry] {
        try await ledgerEntries(account: account, from: from, to: to, limit: 1000)
    }
    public func setPayoutAccount(accountID: String, holder: String, iban: String, bic: String) async throws -> PayoutAccount {
        try await setPayoutAccount(accountID: accountID, holder: holder, iban: iban, bic: bic, now: Date())
    }
    public func runPayouts(
        period: String, minimum: Money, debtor: (name: String, iban: String, bic: String), allowOpenPeriod: Bool = false
    ) async throws -> (run: PayoutRun, payouts: [Payout], created: Bool) {
        try await runPayouts(period: period, minimum: minimum, debtor: debtor, allowOpenPeriod: allowOpenPeriod, reserved: [:], now: Date())
    }
    public func payouts() async throws -> [Payout] { try await payouts(period: nil, accountID: nil) }
    public func settlePayout(id: String, paid: Bool) async throws -> Payout? { try await settlePayout(id: id, paid: paid, now: Date()) }
}
