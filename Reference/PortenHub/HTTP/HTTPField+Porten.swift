import HTTPTypes

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let portenNode = Self("X-Porten-Node")!
}
