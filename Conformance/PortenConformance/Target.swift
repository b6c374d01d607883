/// What the suite runs against.
public struct Target: Sendable {
    /// The server root: `http://host:port` (a trailing `/v1` given by the user is dropped).
    public var root: String
    public var apiKey: String
    /// Model role (`chat`, `tools`, …) → the target's model id.
    public var models: [String: String]
    /// Keys made by fixtures, by fixture name.
    public var fixtureKeys: [String: String]
    /// Fixtures that are in place on the target.
    public var fixtures: Set<String>

    public init(baseURL: String, apiKey: String, models: [String: String], fixtureKeys: [String: String] = [:], fixtures: Set<String> = []) {
        var root = baseURL
        while root.hasSuffix("/") { root.removeLast() }
        if root.hasSuffix("/v1") { root.removeLast(3) }
        self.root = root
        self.apiKey = apiKey
        self.models = models
        self.fixtureKeys = fixtureKeys
        self.fixtures = fixtures.union(fixtureKeys.keys)
    }
}
