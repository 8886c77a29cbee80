//! shuyun-client (being written).
