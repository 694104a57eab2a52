#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import CRabbitMQ

/// Small conversions between Swift values and rabbitmq-c's structs. Only used on a connection
/// thread; pointers handed to C live only for the duration of the closure.
enum CBridge {
    static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let base = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: base, count: bytes.len), as: UTF8.self)
    }

    /// `bytes` as a string, `cached` itself when it already holds them (no allocation: a consumer's
    /// deliveries mostly repeat its tag, exchange and routing key); otherwise a new string, kept in `cached`.
    static func string(_ bytes: amqp_bytes_t, reusing cached: inout String) -> String {
        // memcmp: a generic byte-by-byte `elementsEqual` cost more than the allocation it saves.
        let same = cached.withUTF8 { utf8 in
            guard utf8.count == bytes.len else { return false }
            guard let mine = utf8.baseAddress, let theirs = bytes.bytes else { return true }  // both empty
            return memcmp(mine, theirs, bytes.len) == 0
        }
        if !same { cached = string(bytes) }
        return cached
    }

    static func array(_ bytes: amqp_bytes_t) -> [UInt8] {
        guard bytes.len > 0, let base = bytes.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: bytes.len))
    }

    /// Calls `body` with an `amqp_bytes_t` that views the string's UTF-8.
    static func withBytes<R>(_ string: String, _ body: (amqp_bytes_t) throws -> R) rethrows -> R {
        var copy = string
        return try copy.withUTF8 { buffer in
            try body(amqp_bytes_t(len: buffer.count, bytes: UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
        }
    }

    static func withBytes<R>(_ bytes: [UInt8], _ body: (amqp_bytes_t) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { buffer in
            try body(amqp_bytes_t(len: buffer.count, bytes: UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
        }
    }

    /// Builds an owned C field table; free it with `bb_table_free`.
    static func makeTable(_ table: FieldTable) -> UnsafeMutablePointer<bb_table>? {
        guard !table.isEmpty else { return nil }
        let builder = bb_table_new(Int32(table.count))!
        for key in table.keys.sorted() {
            add(table[key]!, key: key, to: builder)
        }
        return builder
    }

    private static func add(_ value: FieldValue, key: String, to builder: UnsafeMutablePointer<bb_table>) {
        switch value {
        case .string(let string):
            withBytes(string) { bytes in _ = bb_table_add_string(builder, key, bytes.bytes, bytes.len) }
        case .bytes(let raw):
            withBytes(raw) { bytes in _ = bb_table_add_string(builder, key, bytes.bytes, bytes.len) }
        case .int(let int):
            _ = bb_table_add_i64(builder, key, int)
        case .timestamp(let t):
            _ = bb_table_add_i64(builder, key, Int64(clamping: t))
        case .bool(let bool):
            _ = bb_table_add_bool(builder, key, bool ? 1 : 0)
        case .double(let double):
            _ = bb_table_add_double(builder, key, double)
        case .table(let nested):
            if let inner = makeTable(nested) {
                _ = bb_table_add_table(builder, key, inner)
            } else {
                _ = bb_table_add_table(builder, key, bb_table_new(1))
            }
        case .array(let values):
            // Arrays are only read (x-death); as arguments they are sent as a table of indices.
            var indexed: FieldTable = [:]
            for (index, element) in values.enumerated() { indexed[String(index)] = element }
            add(.table(indexed), key: key, to: builder)
        }
    }

    /// Calls `body` with a C table view of `table` (the empty table when there is nothing).
    static func withTable<R>(_ table: FieldTable, _ body: (amqp_table_t) throws -> R) rethrows -> R {
        let builder = makeTable(table)
        defer { bb_table_free(builder) }
        return try body(bb_table_value(builder))
    }

    static func decode(_ table: amqp_table_t) -> FieldTable {
        var result: FieldTable = [:]
        guard table.num_entries > 0, let entries = table.entries else { return result }
        for index in 0..<Int(table.num_entries) {
            let entry = entries[index]
            result[string(entry.key)] = decode(entry.value)
        }
        return result
    }

    static func decode(_ value: amqp_field_value_t) -> FieldValue {
        switch Int(value.kind) {
        case Int(AMQP_FIELD_KIND_BOOLEAN.rawValue): return .bool(value.value.boolean != 0)
        case Int(AMQP_FIELD_KIND_I8.rawValue): return .int(Int64(value.value.i8))
        case Int(AMQP_FIELD_KIND_U8.rawValue): return .int(Int64(value.value.u8))
        case Int(AMQP_FIELD_KIND_I16.rawValue): return .int(Int64(value.value.i16))
        case Int(AMQP_FIELD_KIND_U16.rawValue): return .int(Int64(value.value.u16))
        case Int(AMQP_FIELD_KIND_I32.rawValue): return .int(Int64(value.value.i32))
        case Int(AMQP_FIELD_KIND_U32.rawValue): return .int(Int64(value.value.u32))
        case Int(AMQP_FIELD_KIND_I64.rawValue): return .int(value.value.i64)
        case Int(AMQP_FIELD_KIND_U64.rawValue): return .int(Int64(clamping: value.value.u64))
        case Int(AMQP_FIELD_KIND_F32.rawValue): return .double(Double(value.value.f32))
        case Int(AMQP_FIELD_KIND_F64.rawValue): return .double(value.value.f64)
        case Int(AMQP_FIELD_KIND_UTF8.rawValue): return .string(string(value.value.bytes))
        case Int(AMQP_FIELD_KIND_BYTES.rawValue): return .bytes(array(value.value.bytes))
        case Int(AMQP_FIELD_KIND_TIMESTAMP.rawValue): return .timestamp(value.value.u64)
        case Int(AMQP_FIELD_KIND_TABLE.rawValue): return .table(decode(value.value.table))
        case Int(AMQP_FIELD_KIND_ARRAY.rawValue):
            let array = value.value.array
            guard array.num_entries > 0, let entries = array.entries else { return .array([]) }
            return .array((0..<Int(array.num_entries)).map { decode(entries[$0]) })
        default: return .bytes([])
        }
    }

    static func decode(_ props: amqp_basic_properties_t) -> MessageProperties {
        let flags = props._flags
        func has(_ flag: Int32) -> Bool { flags & amqp_flags_t(flag) != 0 }
        var result = MessageProperties(persistent: false)
        if has(AMQP_BASIC_CONTENT_TYPE_FLAG) { result.contentType = string(props.content_type) }
        if has(AMQP_BASIC_CONTENT_ENCODING_FLAG) { result.contentEncoding = string(props.content_encoding) }
        if has(AMQP_BASIC_HEADERS_FLAG) { result.headers = decode(props.headers) }
        if has(AMQP_BASIC_DELIVERY_MODE_FLAG) { result.persistent = props.delivery_mode == 2 }
        if has(AMQP_BASIC_PRIORITY_FLAG) { result.priority = props.priority }
        if has(AMQP_BASIC_CORRELATION_ID_FLAG) { result.correlationID = string(props.correlation_id) }
        if has(AMQP_BASIC_REPLY_TO_FLAG) { result.replyTo = string(props.reply_to) }
        if has(AMQP_BASIC_EXPIRATION_FLAG) { result.expiration = string(props.expiration) }
        if has(AMQP_BASIC_MESSAGE_ID_FLAG) { result.messageID = string(props.message_id) }
        if has(AMQP_BASIC_TIMESTAMP_FLAG) { result.timestamp = props.timestamp }
        if has(AMQP_BASIC_TYPE_FLAG) { result.type = string(props.type) }
        if has(AMQP_BASIC_USER_ID_FLAG) { result.userID = string(props.user_id) }
        if has(AMQP_BASIC_APP_ID_FLAG) { result.appID = string(props.app_id) }
        return result
    }

    /// Calls `body` with C properties that point into memory valid for the closure's duration.
    static func withProperties<R>(
        _ props: MessageProperties, extraHeaders: FieldTable, _ body: (UnsafePointer<amqp_basic_properties_t>) throws -> R
    ) rethrows -> R {
        var c = amqp_basic_properties_t()
        var flags: Int32 = AMQP_BASIC_DELIVERY_MODE_FLAG
        c.delivery_mode = props.persistent ? 2 : 1
        // Strings are copied into one arena freed after the call: sized for all of them at once, so
        // a publish costs one allocation for its properties, not two per string (#12).
        let strings = [
            props.contentType, props.contentEncoding, props.correlationID, props.replyTo, props.expiration, props.messageID,
            props.type, props.userID, props.appID,
        ]
        let arena = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(1, strings.reduce(0) { $0 + ($1?.utf8.count ?? 0) }), alignment: 1)
        defer { arena.deallocate() }
        var used = 0
        func bytes(_ string: String) -> amqp_bytes_t {
            let count = string.utf8.count
            UnsafeMutableRawBufferPointer(rebasing: arena[used..<used + count]).copyBytes(from: string.utf8)
            defer { used += count }
            return amqp_bytes_t(len: count, bytes: arena.baseAddress! + used)
        }
        if let v = props.contentType { c.content_type = bytes(v); flags |= AMQP_BASIC_CONTENT_TYPE_FLAG }
        if let v = props.contentEncoding { c.content_encoding = bytes(v); flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG }
        if let v = props.priority { c.priority = v; flags |= AMQP_BASIC_PRIORITY_FLAG }
        if let v = props.correlationID { c.correlation_id = bytes(v); flags |= AMQP_BASIC_CORRELATION_ID_FLAG }
        if let v = props.replyTo { c.reply_to = bytes(v); flags |= AMQP_BASIC_REPLY_TO_FLAG }
        if let v = props.expiration { c.expiration = bytes(v); flags |= AMQP_BASIC_EXPIRATION_FLAG }
        if let v = props.messageID { c.message_id = bytes(v); flags |= AMQP_BASIC_MESSAGE_ID_FLAG }
        if let v = props.timestamp { c.timestamp = v; flags |= AMQP_BASIC_TIMESTAMP_FLAG }
        if let v = props.type { c.type = bytes(v); flags |= AMQP_BASIC_TYPE_FLAG }
        if let v = props.userID { c.user_id = bytes(v); flags |= AMQP_BASIC_USER_ID_FLAG }
        if let v = props.appID { c.app_id = bytes(v); flags |= AMQP_BASIC_APP_ID_FLAG }
        var headers = props.headers
        if !extraHeaders.isEmpty { headers.merge(extraHeaders) { _, new in new } }
        let table = makeTable(headers)
        defer { bb_table_free(table) }
        if table != nil {
            c.headers = bb_table_value(table)
            flags |= AMQP_BASIC_HEADERS_FLAG
        }
        c._flags = amqp_flags_t(flags)
        return try withUnsafePointer(to: &c) { try body($0) }
    }

    static func statusText(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }
}
