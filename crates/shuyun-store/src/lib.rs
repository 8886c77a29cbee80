//! shuyun-store (being written).
