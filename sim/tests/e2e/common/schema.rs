//! Validation of REST response bodies against the committed JSON Schemas in
//! `tests/schemas/` (Draft 2020-12, derived from Confluent's OpenAPI files; see
//! `tests/schemas/README.md`).
//!
//! ```ignore
//! mod common;
//! use common::schema::validate;
//!
//! validate("ListMirrorTopicsResponseDataList.json", &body)?;
//! ```

use std::path::PathBuf;

use serde_json::Value;

/// The directory holding the schema files: `<crate>/tests/schemas`.
#[allow(dead_code)]
pub fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("schemas")
}

/// Reads and parses `tests/schemas/<schema_file>`.
#[allow(dead_code)]
pub fn load_schema(schema_file: &str) -> Result<Value, String> {
    let path = schema_dir().join(schema_file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("schema {} is not JSON: {e}", path.display()))
}

/// Loads `tests/schemas/<schema_file>` and compiles it as a Draft 2020-12 schema
/// (which also checks it against the 2020-12 meta-schema).
#[allow(dead_code)]
pub fn compile(schema_file: &str) -> Result<jsonschema::Validator, String> {
    let schema = load_schema(schema_file)?;
    jsonschema::draft202012::new(&schema)
        .map_err(|e| format!("schema {schema_file} does not compile: {e}"))
}

/// Validates `doc` against `tests/schemas/<schema_file>`.
///
/// On failure returns every validation error, each prefixed with the JSON pointer of the
/// offending value, joined with `"; "`. A schema that cannot be read or compiled is an
/// error too.
#[allow(dead_code)]
pub fn validate(schema_file: &str, doc: &Value) -> Result<(), String> {
    let validator = compile(schema_file)?;
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|error| {
            let at = error.instance_path().to_string();
            if at.is_empty() {
                error.to_string()
            } else {
                format!("{at}: {error}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{schema_file}: {}", errors.join("; ")))
    }
}
