//! Enums that travel as fixed strings: in JSON bodies, in table attributes and in store
//! conditions. One declaration gives the serde names, the OpenAPI enum, `as_str` for
//! conditions and `ALL` for the lists a refusal names.

/// `wire_enum! { pub enum Name { Variant = "WIRE", … } }`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, schemars::JsonSchema,
        )]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// The variant spelled `s`, in any letter case (list filters take either).
            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }

            /// The wire names, for messages: `"A, B, C"`.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compared by wire spelling: `run.status == "completed"` in tests and fixtures.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(v: $name) -> serde_json::Value {
                serde_json::Value::String(v.as_str().to_string())
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    wire_enum! {
        enum Probe { One = "ONE", TwoWords = "two.words" }
    }

    #[test]
    fn serde_as_str_and_parse_agree() {
        for v in Probe::ALL {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json, serde_json::Value::from(*v));
            assert_eq!(serde_json::from_value::<Probe>(json).unwrap(), *v);
            assert_eq!(Probe::parse(&v.as_str().to_lowercase()), Some(*v));
        }
        assert_eq!(Probe::parse("three"), None);
        assert_eq!(Probe::names(), "ONE, two.words");
        assert!(serde_json::from_str::<Probe>("\"TWO.WORDS\"").is_err());
    }
}
