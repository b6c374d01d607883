import PortenRedis
import Testing

/// `redis://[[username]:password@]host[:port][/db]`, and clear refusals of everything else.
struct RedisConfigurationTests {
    @Test func urlsGiveHostPortCredentialsAndDatabase() throws {
        let plain = try RedisConfiguration(url: "redis://localhost")
        #expect(plain.host == "localhost" && plain.port == 6379 && plain.password == nil && plain.username == nil && plain.database == 0)

        let full = try RedisConfiguration(url: "redis://:s3cret@10.1.2.3:6380/2")
        #expect(full.host == "10.1.2.3" && full.port == 6380 && full.password == "s3cret" && full.username == nil && full.database == 2)

        let user = try RedisConfiguration(url: "REDIS://hub:p%40ss%3Aw%2Fd@cache.internal:7000/0")
        #expect(user.username == "hub" && user.password == "p@ss:w/d" && user.host == "cache.internal" && user.port == 7000)

        let v6 = try RedisConfiguration(url: "redis://[::1]:6390/15")
        #expect(v6.host == "::1" && v6.port == 6390 && v6.database == 15 && v6.endpoint == "[::1]:6390")

        let trailingSlash = try RedisConfiguration(url: "redis://h:1/")
        #expect(trailingSlash.database == 0 && trailingSlash.endpoint == "h:1")
    }

    @Test(arguments: [
        ("http://localhost", "expected redis://"),
        ("rediss://localhost", "TLS"),
        ("redis://", "host is missing"),
        ("redis://:6379", "host is missing"),
        ("redis://host:0", "port"),
        ("redis://host:65536", "port"),
        ("redis://host:abc", "port"),
        ("redis://host:", "port"),
        ("redis://host/db1", "database number"),
        ("redis://host/-1", "database number"),
        ("redis://host/2147483648", "database number"),
        ("redis://user@host", "user:password@"),
        ("redis://:@host", "password"),
        ("redis://:%zz@host", "percent-encoding"),
        ("redis://host?timeout=1", "query"),
        ("redis://[::1:6379", "unclosed"),
    ])
    func badURLsAreRefusedClearly(url: String, reason: String) {
        let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
        guard case .invalidURL(let message)? = error else {
            Issue.record("expected invalidURL, got \(String(describing: error))")
            return
        }
        #expect(message.contains(reason), "\(message)")
    }

    @Test func refusalsDoNotRepeatThePassword() {
        // The last one forgot its '@': the password lands where the port goes.
        for url in ["http://:topsecret@host", "redis://:topsecret@host:99999", "redis://u:topsecret@host/x", "redis://admin:topsecret"] {
            let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
            #expect(error.map { !"\($0)".contains("topsecret") } == true, "\(url)")
        }
    }

    @Test func aConfigurationInALogShowsNoPassword() throws {
        let configuration = try RedisConfiguration(url: "redis://app:topsecret@cache.internal:6380/2")
        #expect("\(configuration)" == "redis://app:***@cache.internal:6380/2")
        #expect(!String(reflecting: configuration).contains("topsecret"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("topsecret"))
    }
}
