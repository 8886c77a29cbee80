//! shuyun-server (being written).
