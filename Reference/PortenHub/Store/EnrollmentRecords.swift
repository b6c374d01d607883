import Foundation
import GRDB

/// A machine asking to become a node through the browser (RFC 8628 device authorization).
/// The device code is stored as its SHA-256; the node and its credential are created when the
/// approved machine next polls, so no credential is ever stored in the clear.
public struct DeviceAuthorization: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "device_authorization"
    var deviceCodeHash: Data
    /// `BCDF-GHJK`: 8 letters without vowels or look-alikes, shown to the person.
    public var userCode: String
    /// What the machine calls itself (its host name); the approver may change it.
    public var machineName: String
    public var status: Status
    public var createdAt: Date
    public var expiresAt: Date
    /// Seconds the machine must wait between polls; raised by 5 on each `slow_down`.
    public var interval: Int
    public var lastPollAt: Date?
    /// Set on approval: whose node the machine becomes, and who said so.
    public var accountID: String?
    public var approvedBy: String?
    /// Set when the approved machine collected its credential.
    public var nodeID: String?

    public enum Status: String, Codable, Sendable {
        /// Waiting for a person; `approved` / `denied` by them; `collected` once the machine has its credential.
        case pending, approved, denied, collected
    }

    enum CodingKeys: String, CodingKey {
        case status, interval
        case deviceCodeHash = "device_code_hash", userCode = "user_code", machineName = "machine_name", createdAt = "created_at"
        case expiresAt = "expires_at", lastPollAt = "last_poll_at", accountID = "account_id", approvedBy = "approved_by", nodeID = "node_id"
    }
}

/// A token that enrolls machines into an account without a browser (`porten enroll <token>`).
public struct EnrollmentToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "enrollment_token"
    public var id: String
    public var accountID: String
    var lookupID: String
    var tokenHash: Data
    public var displayPrefix: String
    /// New nodes are named `<prefix>-<n>`.
    public var namePrefix: String
    public var usesAllowed: Int
    public var uses: Int
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, uses
        case accountID = "account_id", lookupID = "lookup_id", tokenHash = "token_hash", displayPrefix = "display_prefix"
        case namePrefix = "name_prefix", usesAllowed = "uses_allowed", createdAt = "created_at", expiresAt = "expires_at"
        case revokedAt = "revoked_at"
    }
}
