/// What a Redis command can fail with.
public enum RedisError: Error, Hashable, CustomStringConvertible {
    /// The server answered with an error reply, e.g. `WRONGTYPE …` or `ERR value is not an integer…`.
    case server(String)
    /// No connection to the server could be had before the command's timeout (the server is down,
    /// refuses the credentials, or the client is shut down). The command was not sent.
    case unavailable(String)
    /// The command was sent but got no reply within its timeout; the connection is then closed as
    /// unresponsive. The command may or may not have run.
    case timeout(String)
    /// The connection closed after the command was sent and before its reply. The command may or
    /// may not have run.
    case connectionClosed(String)
    /// The server sent bytes that are not RESP, or a reply beyond the decoder's limits.
    case protocolError(String)
    /// A reply of a type the command does not answer with.
    case unexpectedReply(String)
    /// The connection URL could not be used.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .server(let message): "Redis error: \(message)"
        case .unavailable(let message): "Redis unavailable: \(message)"
        case .timeout(let message): "Redis timeout: \(message)"
        case .connectionClosed(let message): "Redis connection closed: \(message)"
        case .protocolError(let message): "Redis protocol error: \(message)"
        case .unexpectedReply(let message): "unexpected Redis reply: \(message)"
        case .invalidURL(let message): "invalid Redis URL: \(message)"
        }
    }
}
