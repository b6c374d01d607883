import Foundation
import GRDB

/// A person who signs in to the portal. Belongs to one account; operators also see `/admin`.
public struct User: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "portal_user"
    public var id: String
    public var accountID: String
    /// Lowercased; unique.
    public var email: String
    public var displayName: String
    public var role: Role
    public var isOperator: Bool
    /// `PasswordHasher`'s stored form; nil until the user sets a password through a link.
    public var passwordHash: String?
    public var createdAt: Date
    public var disabledAt: Date?

    /// What a user may do within their account.
    public enum Role: String, Codable, Sendable, CaseIterable {
        case member, owner
    }

    enum CodingKeys: String, CodingKey {
        case id, email, role
        case accountID = "account_id", displayName = "display_name", isOperator = "is_operator", passwordHash = "password_hash"
        case createdAt = "created_at", disabledAt = "disabled_at"
    }
}

/// A signed-in browser: the cookie holds a random token, the table only its SHA-256.
struct SessionRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "portal_session"
    var tokenHash: Data
    var userID: String
    /// The token every state-changing form and portal call must carry.
    var csrfToken: String
    var createdAt: Date
    var expiresAt: Date

    enum CodingKeys: String, CodingKey {
        case tokenHash = "token_hash", userID = "user_id", csrfToken = "csrf_token", createdAt = "created_at", expiresAt = "expires_at"
    }
}

/// A one-time link to set a password (for a user an operator created, or a reset).
struct PasswordLink: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "password_link"
    var tokenHash: Data
    var userID: String
    var expiresAt: Date
    var usedAt: Date?

    enum CodingKeys: String, CodingKey { case tokenHash = "token_hash", userID = "user_id", expiresAt = "expires_at", usedAt = "used_at" }
}
