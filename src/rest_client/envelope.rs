//! The list envelope of Confluent's REST API v3 (`{"metadata": {"next": …}, "data": […]}`)
//! decoded from any [`Read`]er, each item of `data` converted as soon as it is parsed: a page
//! never exists as a document or as a list of wire items, only as the converted items.
//!
//! It reads a page as the derived struct it replaces did: unknown keys skipped (without
//! recursion, however deep their nesting), `metadata` and `data` optional and `null` as if
//! absent, a repeated `metadata` or `data` an error, and errors worded as serde_json words
//! them (the same text and line; reading from a reader, serde_json may place an error one
//! column further than in a slice). One difference: the envelope must be a JSON object (a
//! derived struct also took a two-element array, which no REST API sends).

use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `metadata` of a list envelope: where the next page is, when there is one.
#[derive(Debug, Deserialize)]
struct EnvelopeMetadata {
    #[serde(default)]
    next: Option<String>,
}

/// The keys of an envelope the client reads; any other is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Metadata,
    Data,
    #[serde(other)]
    Other,
}

/// Decodes one page from `reader`: each item of `data` is decoded as a `T`, converted by
/// `convert` and appended to `items` at once. Returns `metadata.next` (`None` when absent or
/// null). The whole input must be the one JSON object (trailing whitespace only).
///
/// # Errors
/// The first serde_json error: malformed or truncated JSON, a wrong type, a repeated key, an
/// I/O error of `reader`. `items` may then hold part of the page.
pub(super) fn decode_page<T: DeserializeOwned, U>(
    reader: impl Read,
    items: &mut Vec<U>,
    convert: fn(T) -> U,
) -> Result<Option<String>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let next = Page {
        items,
        convert,
        item: PhantomData,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(next)
}

/// The envelope as a seed: it appends the converted items and yields `metadata.next`.
struct Page<'a, T, U> {
    items: &'a mut Vec<U>,
    convert: fn(T) -> U,
    item: PhantomData<fn() -> T>,
}

impl<'de, T: Deserialize<'de>, U> DeserializeSeed<'de> for Page<'_, T, U> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct("Envelope", &["metadata", "data"], self)
    }
}

impl<'de, T: Deserialize<'de>, U> Visitor<'de> for Page<'_, T, U> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct Envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut metadata: Option<Option<EnvelopeMetadata>> = None;
        let mut data = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Metadata if metadata.is_some() => {
                    return Err(A::Error::duplicate_field("metadata"))
                }
                Key::Metadata => metadata = Some(map.next_value()?),
                Key::Data if data => return Err(A::Error::duplicate_field("data")),
                Key::Data => {
                    data = true;
                    map.next_value_seed(Items {
                        items: &mut *self.items,
                        convert: self.convert,
                        item: PhantomData,
                    })?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(metadata.flatten().and_then(|m| m.next))
    }
}

/// `data`: `null` as no item, else an array whose items are converted one by one.
struct Items<'a, T, U> {
    items: &'a mut Vec<U>,
    convert: fn(T) -> U,
    item: PhantomData<fn() -> T>,
}

impl<'de, T: Deserialize<'de>, U> DeserializeSeed<'de> for Items<'_, T, U> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Deserialize<'de>, U> Visitor<'de> for Items<'_, T, U> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<T>()? {
            self.items.push((self.convert)(item));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_client::wire::{LinkConfigData, LinkData, MirrorData};
    use crate::snapshot::{Link, MirrorTopic};

    /// The decode this module replaces: the whole page into a derived envelope of wire items,
    /// converted afterwards.
    #[derive(Deserialize)]
    #[serde(bound(deserialize = "T: Deserialize<'de>"))]
    struct Envelope<T> {
        #[serde(default)]
        metadata: Option<EnvelopeMetadata>,
        #[serde(default = "Vec::new", deserialize_with = "null_default")]
        data: Vec<T>,
    }

    fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }

    type Decoded<U> = Result<(Vec<U>, Option<String>), Failed>;

    /// A serde_json error without its column: a reader reports some errors one column
    /// further than a slice does (after the byte it had to read to see them).
    #[derive(Debug, PartialEq)]
    struct Failed {
        category: serde_json::error::Category,
        line: usize,
        text: String,
    }

    fn failed(e: serde_json::Error) -> Failed {
        let text = e.to_string();
        let text = match text.rfind(" at line ") {
            Some(at) if e.line() > 0 => text[..at].to_owned(),
            _ => text,
        };
        Failed {
            category: e.classify(),
            line: e.line(),
            text,
        }
    }

    fn whole<T: DeserializeOwned, U>(body: &[u8], convert: fn(T) -> U) -> Decoded<U> {
        let page: Envelope<T> = serde_json::from_slice(body).map_err(failed)?;
        let next = page.metadata.and_then(|m| m.next);
        Ok((page.data.into_iter().map(convert).collect(), next))
    }

    fn streamed<T: DeserializeOwned, U>(body: &[u8], convert: fn(T) -> U) -> Decoded<U> {
        let mut items = Vec::new();
        let next = decode_page(body, &mut items, convert).map_err(failed)?;
        Ok((items, next))
    }

    fn mirror(m: MirrorData) -> MirrorTopic {
        m.into_mirror()
    }

    fn link(l: LinkData) -> Link {
        l.into_link()
    }

    /// Mirror pages: sparse items, unknown and null fields, every lenient field, and errors.
    const MIRROR_PAGES: &[&str] = &[
        r#"{"kind":"KafkaMirrorDataList","metadata":{"self":"x","next":null},"data":[
            {"kind":"KafkaMirrorData","link_name":"l","mirror_topic_name":"t",
             "source_topic_name":"s","num_partitions":2,"mirror_status":"ACTIVE",
             "mirror_topic_error":"NO_ERROR","state_time_ms":1700000000000,
             "mirror_lags":[{"partition":0,"lag":5,"last_source_fetch_offset":10},
                            {"partition":1,"lag":-3}],"extra":{"deep":[[[1]]]}},
            {"link_name":"l","mirror_topic_name":"u","mirror_lags":null,"num_partitions":null,
             "mirror_status":null,"state_time_ms":-5,
             "mirror_state_transition_errors":[{"error_code":"E","error_message":"m"},7]},
            {"link_name":"m","mirror_topic_name":"v","mirror_state_transition_errors":"no"}]}"#,
        r#"{"data":[{"link_name":"l","mirror_topic_name":"t"}],"metadata":{"next":"/p?2"}}"#,
        r#"{"metadata":null,"data":null}"#,
        r#"{"metadata":{},"data":[]}"#,
        r#"{}"#,
        r#"  {"unknown":[1,{"a":null}],"data":[]}  "#,
        // Errors: each must fail, with the same message.
        r#"{"data":[{"link_name":"l"}]}"#,
        r#"{"data":[{"link_name":"l","mirror_topic_name":7}]}"#,
        r#"{"data":[{"link_name":"l","mirror_topic_name":"t","mirror_lags":[{"lag":1}]}]}"#,
        r#"{"data":[],"data":[]}"#,
        r#"{"metadata":{},"metadata":{}}"#,
        r#"{"data":5}"#,
        r#"{"data":{"a":1}}"#,
        r#"{"metadata":{"next":5},"data":[]}"#,
        r#""a string""#,
        r#"17"#,
        r#"null"#,
        r#"{"data":[]} x"#,
        r#"{"data":[]}{"data":[]}"#,
        r#"{"data":[{"link_name":"l","mirror_topic_name":"t"},]}"#,
        r#"{"data":[{"link_name":"l","mirror_topic_name":"t"}"#,
        r#"{"data":[{"link_na"#,
        r#"{"data""#,
        "",
        "<html><title>Error</title></html>",
    ];

    #[test]
    fn item_by_item_equals_the_whole_page_decode() {
        for body in MIRROR_PAGES {
            let (old, new) = (
                whole(body.as_bytes(), mirror),
                streamed(body.as_bytes(), mirror),
            );
            assert_eq!(new, old, "{body}");
        }
        let links = r#"{"data":[{"link_name":"l","topic_names":null,"link_state":"ACTIVE",
            "tasks":[{"task_name":"X","errors":null}],"category_counts":"no","extra":1},
            {"link_name":"k","cluster_link_id":"","link_id":"p"}]}"#;
        assert_eq!(
            streamed(links.as_bytes(), link),
            whole(links.as_bytes(), link)
        );
        let configs = r#"{"data":[{"name":"a","value":null,"sensitive":true},{"name":"b"}]}"#;
        let id = |c: LinkConfigData| c;
        assert_eq!(
            streamed(configs.as_bytes(), id),
            whole(configs.as_bytes(), id)
        );
    }

    #[test]
    fn bad_bytes_fail_as_the_whole_page_decode_fails() {
        for body in [
            &b"{\"data\":[{\"link_name\":\"a\xff\xfe\",\"mirror_topic_name\":\"t\"}]}"[..],
            b"{\"data\":[{\"link_name\":\"a\\ud800\",\"mirror_topic_name\":\"t\"}]}",
            b"\xef\xbb\xbf{\"data\":[]}",
            b"{\"data\":[]}\0",
        ] {
            let old = whole(body, mirror).expect_err("whole");
            let new = streamed(body, mirror).expect_err("streamed");
            assert_eq!(new, old, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn nesting_is_bounded_in_items_and_skipped_elsewhere() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let skipped = format!(r#"{{"data":[],"x":{}}}"#, nested(100_000));
        assert_eq!(streamed(skipped.as_bytes(), mirror), Ok((vec![], None)));
        let deep = format!(
            r#"{{"data":[{{"link_name":"a","mirror_topic_name":"t",
                "mirror_state_transition_errors":{}}}]}}"#,
            nested(100_000)
        );
        let e = streamed(deep.as_bytes(), mirror).expect_err("too deep");
        assert_eq!(e.text, "recursion limit exceeded");
    }

    #[test]
    fn items_are_converted_as_they_are_parsed() {
        // The page fails at its third item: the first two were already converted.
        let body = r#"{"data":[{"link_name":"l","mirror_topic_name":"a"},
            {"link_name":"l","mirror_topic_name":"b"},{"link_name":"l"}]}"#;
        let mut items = Vec::new();
        decode_page(body.as_bytes(), &mut items, mirror).expect_err("third item");
        let names: Vec<&str> = items
            .iter()
            .map(|m: &MirrorTopic| m.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
