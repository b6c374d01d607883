import Hummingbird
import HummingbirdWebSocket
import NIOCore
import OpenAIWire

/// The per-request context of every Hub route: the request id that goes into `X-Request-Id`,
/// logs and the usage row, and who is calling, as the authentication middleware found it: an API
/// key, a portal session, or a node credential (the operator token admits or refuses, it names
/// nobody).
public struct HubRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<HubRequestContext>
    /// `req_…`; a request another replica forwarded keeps that replica's id (``ReplicaTokenMiddleware``).
    public internal(set) var requestID: String
    /// The connection; the tunnel writes its frames to it directly.
    let channel: any Channel
    /// The peer's address, as the connection opened (NIO forgets it on close); its text is made
    /// only when asked for.
    private let peer: SocketAddress?
    /// The peer's IP address (sign-in throttling).
    public var remoteAddress: String? { peer?.ipAddress }

    /// Filled by `APIKeyMiddleware` (`/v1`) or, for the playground, by the portal.
    public var apiKey: AuthenticatedKey?
    /// Filled by `NodeCredentialMiddleware` on the tunnel's path.
    public var node: AuthenticatedNode? {
        get { callers?.node }
        set { callers = Callers(node: newValue, portal: portal) }
    }
    /// Set by `ReplicaTokenMiddleware`: another replica sent this request here; it is served by
    /// this replica's nodes or refused, never forwarded again.
    public var forwarded = false
    /// Filled by `SessionMiddleware` when the browser has a live session.
    public var portal: PortalIdentity? {
        get { callers?.portal }
        set { callers = Callers(node: node, portal: newValue) }
    }
    /// The node and portal identities, behind one pointer: the context is copied into the async
    /// frame of every middleware, and these two (352 bytes inline) are set on few paths.
    private var callers: Callers?
    /// The CSRF token this request's forms must carry: the session's, or before sign-in the
    /// browser's `porten_csrf` cookie.
    public var csrfToken = ""
    /// A portal form's fields, read (and CSRF-checked) by `SessionMiddleware`.
    public var form = FormFields()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        requestID = Self.newRequestID()
        channel = source.channel
        peer = source.channel.remoteAddress
    }

    /// The authenticated key; `APIKeyMiddleware` guarantees one on `/v1` routes.
    func requireAPIKey() throws(APIError) -> AuthenticatedKey {
        guard let apiKey else { throw .invalidAPIKey("Missing API key. Pass it as 'Authorization: Bearer sk-porten-…'.") }
        return apiKey
    }

    /// `req_` and 24 random hex digits.
    static func newRequestID() -> String { "req_" + SecretToken.randomHex(byteCount: 12) }
}

/// A node's or a portal user's identity on a ``HubRequestContext``; replaced whole when set.
private final class Callers: Sendable {
    let node: AuthenticatedNode?
    let portal: PortalIdentity?

    init(node: AuthenticatedNode?, portal: PortalIdentity?) {
        self.node = node
        self.portal = portal
    }
}
