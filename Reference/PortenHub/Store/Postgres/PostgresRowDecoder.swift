import Foundation
import PostgresNIO

/// Decodes a row into a `Decodable` record by column name, as GRDB does for SQLite: the records'
/// `CodingKeys` are the column names, so one type serves both engines. Scalars decode with
/// PostgresNIO's own codecs (`timestamptz` as `Date`, `bytea` as `Data`); enums through their raw value.
struct PostgresRowDecoder: Decoder {
    let row: PostgresRandomAccessRow
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func decode<Record: Decodable>(_ type: Record.Type, from row: PostgresRow) throws -> Record {
        try Record(from: PostgresRowDecoder(row: row.makeRandomAccess()))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Columns(row: row))
    }

    /// A column's value: with PostgresNIO's codec for its type; an enum through its raw value; a
    /// list or other structure from the JSON text it is stored as (as GRDB stores it).
    static func value<T: Decodable>(_ type: T.Type, in cell: PostgresCell, at path: [any CodingKey]) throws -> T {
        let isText = cell.dataType == .text || cell.dataType == .varchar
        if T.self == String.self || !isText, let decodable = T.self as? any PostgresDecodable.Type {
            return try decodable._decode(cell) as! T
        }
        if T.self is any RawRepresentable.Type { return try T(from: Cell(cell: cell, codingPath: path)) }
        let text = try cell.decode(String.self)
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a row is decoded by column name"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        throw DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "a row is decoded by column name"))
    }

    private struct Columns<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let row: PostgresRandomAccessRow
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { (0..<row.count).compactMap { Key(stringValue: row[$0].columnName) } }

        func contains(_ key: Key) -> Bool { row.contains(key.stringValue) }

        func decodeNil(forKey key: Key) throws -> Bool { try cell(key).bytes == nil }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try PostgresRowDecoder.value(T.self, in: try cell(key), at: [key])
        }

        private func cell(_ key: Key) throws -> PostgresCell {
            guard row.contains(key.stringValue) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "no column \(key.stringValue) in the row"))
            }
            return row[key.stringValue]
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            throw DecodingError.typeMismatch(type, .init(codingPath: [key], debugDescription: "a column holds one value"))
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: [key], debugDescription: "a column holds one value"))
        }
        func superDecoder() throws -> any Decoder { throw DecodingError.typeMismatch(Any.self, .init(codingPath: [], debugDescription: "no super")) }
        func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder() }
    }

    /// One column's value, for types that decode from a single value (enums with a raw value).
    private struct Cell: Decoder, SingleValueDecodingContainer {
        let cell: PostgresCell
        let codingPath: [any CodingKey]
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
            throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
        }
        func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a column holds one value"))
        }
        func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

        func decodeNil() -> Bool { cell.bytes == nil }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            guard let decodable = T.self as? any PostgresDecodable.Type else { return try T(from: self) }
            return try decodable._decode(cell) as! T
        }
    }
}

extension PostgresDecodable {
    /// Opens the existential for ``PostgresRowDecoder``.
    fileprivate static func _decode(_ cell: PostgresCell) throws -> Self { try cell.decode(Self.self) }
}

/// The columns and values of an `Encodable` record, for an `INSERT`: the same `CodingKeys` name
/// the columns. A nil optional is left out, so the column takes its default.
struct PostgresRowEncoder: Encoder {
    final class Collected {
        var columns: [String] = []
        var bindings = PostgresBindings()
    }

    let collected = Collected()
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// `INSERT INTO table (…) VALUES ($1, …)` for `record`.
    static func insert(_ record: some Encodable, into table: String, suffix: String = "") throws -> PostgresQuery {
        let encoder = PostgresRowEncoder()
        try record.encode(to: encoder)
        let columns = encoder.collected.columns
        let placeholders = (1...max(columns.count, 1)).prefix(columns.count).map { "$\($0)" }
        return PostgresQuery(
            unsafeSQL: "INSERT INTO \(table) (\(columns.map { "\"\($0)\"" }.joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", ")))\(suffix)",
            binds: encoder.collected.bindings)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Columns(collected: collected))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { fatalError("a row is encoded by column name") }
    func singleValueContainer() -> any SingleValueEncodingContainer { fatalError("a row is encoded by column name") }

    private struct Columns<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let collected: Collected
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws {}

        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            collected.columns.append(key.stringValue)
            if let raw = value as? any RawRepresentable, let text = raw.rawValue as? String {
                collected.bindings.append(text)
            } else if !(value is String), !(value is Data), value is any Collection {
                // Stored as JSON text, as GRDB stores it.
                collected.bindings.append(String(decoding: try JSONEncoder().encode(value), as: UTF8.self))
            } else if let text = value as? String {
                // PostgreSQL text cannot hold U+0000; a client's stray NUL (in a model name, say)
                // must not sink the usage batch it is in.
                collected.bindings.append(text.contains("\u{0}") ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text)
            } else if let encodable = value as? any PostgresThrowingDynamicTypeEncodable {
                try collected.bindings.append(encodable)
            } else {
                throw EncodingError.invalidValue(value, .init(codingPath: [key], debugDescription: "no Postgres type for \(T.self)"))
            }
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            fatalError("a column holds one value")
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { fatalError("a column holds one value") }
        mutating func superEncoder() -> any Encoder { fatalError("no super") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { fatalError("no super") }
    }
}
