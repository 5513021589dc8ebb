//! JSON errors that can be logged: where and how a document is wrong, never what it holds.
//! (serde_json's own message quotes the offending value — a member's name, a message's text.)

/// `error` as "Syntax error at line 1, column 12".
pub fn error_without_data(error: &serde_json::Error) -> String {
    format!("{:?} error at line {}, column {}", error.classify(), error.line(), error.column())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_offending_value_is_not_quoted() {
        let error = serde_json::from_str::<Vec<u8>>(r#"["Sophie Martin"]"#).expect_err("not bytes");
        assert!(error.to_string().contains("Sophie Martin"), "serde quotes it: {error}");
        let told = super::error_without_data(&error);
        assert_eq!(told, "Data error at line 1, column 16");
    }
}
