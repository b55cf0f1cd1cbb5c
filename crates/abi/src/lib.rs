//! The Simple MAPI ABI as plain data.
//!
//! This crate is the single source for everything that must agree across languages:
//! the export table (names, native ordinals, C prototypes), the SDK constants, and the
//! renderers that turn them into `include/mapi.h`, the Windows `.def` file, the Linux
//! version script, and the Rust `extern "system"` wrappers of the `mapi32` crate.
//! It has no dependencies so that build scripts can use it cheaply.
#![forbid(unsafe_code)]

pub use plugin::{render_plugin_header, render_plugin_rust};
pub use render::{
    VersionInfo, render_def, render_header, render_rust_exports, render_rust_types,
    render_version_rc, render_version_script,
};

pub mod plugin;

/// One Simple MAPI constant group as it appears in the header.
pub struct ConstantGroup {
    pub title: &'static str,
    pub constants: &'static [(&'static str, &'static str)],
}

macro_rules! constants {
    ($( $title:literal { $( $name:ident = $value:literal $( => $header:literal )? ),* $(,)? } )*
     enum $codes_title:literal { $($codes:tt)* }) => {
        $( $( pub const $name: u32 = $value; )* )*
        return_codes!(@acc $codes_title [] [] $($codes)*);
        /// Every constant in header order; the header text of a value is its hex form
        /// unless the SDK spells it as an expression.
        pub const CONSTANT_GROUPS: &[ConstantGroup] = &[
            $( ConstantGroup { title: $title, constants: &[ $( (stringify!($name), constants!(@text $value $( $header )?)) ),* ] } ),*,
            RETURN_CODE_GROUP,
        ];
    };
    (@text $value:literal) => { stringify!($value) };
    (@text $value:literal $header:literal) => { $header };
}

/// The return-code group: each primary code (`NAME = value as Variant`) becomes a constant
/// and a [`MapiCode`] variant; an alias (`NAME = value => "PRIMARY"`) only a constant.
macro_rules! return_codes {
    (@acc $title:literal [$($variant:ident $vname:ident $vvalue:literal)*]
          [$(($name:ident $value:literal $text:expr))*]) => {
        $( pub const $name: u32 = $value; )*
        const RETURN_CODE_GROUP: ConstantGroup = ConstantGroup {
            title: $title,
            constants: &[ $( (stringify!($name), $text) ),* ],
        };

        /// A Simple MAPI return code, generated from the export table's return-code group.
        /// The discriminant is the value the C caller sees.
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MapiCode {
            $( #[doc = stringify!($vname)] $variant = $vvalue, )*
        }

        impl MapiCode {
            /// Every code, in header order.
            pub const ALL: &[MapiCode] = &[ $( MapiCode::$variant ),* ];

            /// The SDK name, for log lines admins can search for.
            pub const fn name(self) -> &'static str {
                match self { $( MapiCode::$variant => stringify!($vname), )* }
            }

            /// The code for a value a foreign library returned, if it is one.
            pub const fn from_u32(code: u32) -> Option<Self> {
                match code { $( $vvalue => Some(MapiCode::$variant), )* _ => None }
            }

            /// The value the C caller sees.
            pub const fn as_u32(self) -> u32 {
                self as u32
            }
        }
    };
    (@acc $title:literal [$($v:tt)*] [$($e:tt)*]
          $name:ident = $value:literal as $variant:ident $(, $($rest:tt)*)?) => {
        return_codes!(@acc $title [$($v)* $variant $name $value] [$($e)* ($name $value stringify!($value))] $($($rest)*)?);
    };
    (@acc $title:literal [$($v:tt)*] [$($e:tt)*]
          $name:ident = $value:literal => $header:literal $(, $($rest:tt)*)?) => {
        return_codes!(@acc $title [$($v)*] [$($e)* ($name $value $header)] $($($rest)*)?);
    };
}

impl std::fmt::Display for MapiCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<MapiCode> for u32 {
    fn from(code: MapiCode) -> u32 {
        code as u32
    }
}

constants! {
    "Recipient classes (MapiRecipDesc.ulRecipClass)" {
        MAPI_ORIG = 0, MAPI_TO = 1, MAPI_CC = 2, MAPI_BCC = 3,
    }
    "Attachment flags (MapiFileDesc.flFlags)" {
        MAPI_OLE = 0x00000001, MAPI_OLE_STATIC = 0x00000002,
    }
    "Message flags (MapiMessage.flFlags)" {
        MAPI_UNREAD = 0x00000001, MAPI_RECEIPT_REQUESTED = 0x00000002, MAPI_SENT = 0x00000004,
    }
    "Call flags" {
        MAPI_LOGON_UI = 0x00000001,
        MAPI_NEW_SESSION = 0x00000002,
        MAPI_DIALOG = 0x00000008,
        MAPI_DIALOG_MODELESS = 0x0000000C => "(0x00000004 | MAPI_DIALOG)",
        MAPI_EXTENDED = 0x00000020,
        MAPI_UNREAD_ONLY = 0x00000020,
        MAPI_ENVELOPE_ONLY = 0x00000040,
        MAPI_USE_DEFAULT = 0x00000040,
        MAPI_PEEK = 0x00000080,
        MAPI_GUARANTEE_FIFO = 0x00000100,
        MAPI_BODY_AS_FILE = 0x00000200,
        MAPI_AB_NOMODIFY = 0x00000400,
        MAPI_SUPPRESS_ATTACH = 0x00000800,
        MAPI_FORCE_DOWNLOAD = 0x00001000,
        MAPI_LONG_MSGID = 0x00004000,
        MAPI_PASSWORD_UI = 0x00020000,
        MAPI_FORCE_UNICODE = 0x00040000,
    }
    enum "Return codes" {
        SUCCESS_SUCCESS = 0 as Success,
        MAPI_USER_ABORT = 1 as UserAbort,
        MAPI_E_USER_ABORT = 1 => "MAPI_USER_ABORT",
        MAPI_E_FAILURE = 2 as Failure,
        MAPI_E_LOGON_FAILURE = 3 as LogonFailure,
        MAPI_E_LOGIN_FAILURE = 3 => "MAPI_E_LOGON_FAILURE",
        MAPI_E_DISK_FULL = 4 as DiskFull,
        MAPI_E_INSUFFICIENT_MEMORY = 5 as InsufficientMemory,
        MAPI_E_ACCESS_DENIED = 6 as AccessDenied,
        MAPI_E_TOO_MANY_SESSIONS = 8 as TooManySessions,
        MAPI_E_TOO_MANY_FILES = 9 as TooManyFiles,
        MAPI_E_TOO_MANY_RECIPIENTS = 10 as TooManyRecipients,
        MAPI_E_ATTACHMENT_NOT_FOUND = 11 as AttachmentNotFound,
        MAPI_E_ATTACHMENT_OPEN_FAILURE = 12 as AttachmentOpenFailure,
        MAPI_E_ATTACHMENT_WRITE_FAILURE = 13 as AttachmentWriteFailure,
        MAPI_E_UNKNOWN_RECIPIENT = 14 as UnknownRecipient,
        MAPI_E_BAD_RECIPTYPE = 15 as BadReciptype,
        MAPI_E_NO_MESSAGES = 16 as NoMessages,
        MAPI_E_INVALID_MESSAGE = 17 as InvalidMessage,
        MAPI_E_TEXT_TOO_LARGE = 18 as TextTooLarge,
        MAPI_E_INVALID_SESSION = 19 as InvalidSession,
        MAPI_E_TYPE_NOT_SUPPORTED = 20 as TypeNotSupported,
        MAPI_E_AMBIGUOUS_RECIPIENT = 21 as AmbiguousRecipient,
        MAPI_E_AMBIG_RECIP = 21 => "MAPI_E_AMBIGUOUS_RECIPIENT",
        MAPI_E_MESSAGE_IN_USE = 22 as MessageInUse,
        MAPI_E_NETWORK_FAILURE = 23 as NetworkFailure,
        MAPI_E_INVALID_EDITFIELDS = 24 as InvalidEditfields,
        MAPI_E_INVALID_RECIPS = 25 as InvalidRecips,
        MAPI_E_NOT_SUPPORTED = 26 as NotSupported,
        MAPI_E_UNICODE_NOT_SUPPORTED = 27 as UnicodeNotSupported,
        MAPI_E_ATTACHMENT_TOO_LARGE = 28 as AttachmentTooLarge,
    }
}

/// `MapiMessage.ulReserved` value that marks UTF-8 strings.
pub const CP_UTF8: u32 = 65001;
/// `MapiFileDesc.nPosition` value meaning "no position".
pub const NO_POSITION: u32 = 0xFFFF_FFFF;

/// One parameter of an export, spelled with the header's C type names.
/// A trailing `" *"` means one more level of pointer (`FAR *` in the header).
pub struct Param {
    pub ctype: &'static str,
    pub name: &'static str,
    /// A string buffer the function writes into (`LPSTR ... [out]` in the table), as
    /// opposed to a string it reads; the C type alone does not say which.
    pub out: bool,
}

/// One exported Simple MAPI function.
pub struct Export {
    pub name: &'static str,
    /// The ordinal native `mapi32.dll` uses; callers may import by it.
    pub ordinal: u16,
    /// The SDK's function type name (`MAPISENDMAIL`); `LP` + it is the pointer type.
    pub fn_type: &'static str,
    /// What the call does, in the log line of a refusal (`send refused: ...`).
    pub action: &'static str,
    pub params: &'static [Param],
    pub summary: &'static str,
}

impl Export {
    /// The name of the safe-side implementation in the `mapi32` crate:
    /// `MAPISendMailW` → `send_mail_w`.
    pub fn impl_name(&self) -> String {
        let stem = self.name.strip_prefix("MAPI").unwrap_or(self.name);
        let mut out = String::new();
        for (i, ch) in stem.chars().enumerate() {
            if ch.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(ch.to_ascii_lowercase());
            } else {
                out.push(ch);
            }
        }
        out
    }
}

macro_rules! params {
    ($( $ctype:literal $name:ident $([$out:ident])? ),* $(,)?) => {
        &[ $( Param { ctype: $ctype, name: stringify!($name), out: params!(@out $($out)?) } ),* ]
    };
    (@out) => { false };
    (@out out) => { true };
}

mod render;

/// The export table, in header order. Everything else is generated from it.
pub const EXPORTS: &[Export] = &[
    Export {
        name: "MAPILogon",
        ordinal: 209,
        fn_type: "MAPILOGON",
        action: "logon",
        params: params!("ULONG_PTR" ulUIParam, "LPSTR" lpszProfileName, "LPSTR" lpszPassword,
                        "FLAGS" flFlags, "ULONG" ulReserved, "LPLHANDLE" lplhSession),
        summary: "Opens a session; the handle is valid until MAPILogoff.",
    },
    Export {
        name: "MAPILogoff",
        ordinal: 210,
        fn_type: "MAPILOGOFF",
        action: "logoff",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "FLAGS" flFlags, "ULONG" ulReserved),
        summary: "Ends a session opened by MAPILogon.",
    },
    Export {
        name: "MAPISendMail",
        ordinal: 211,
        fn_type: "MAPISENDMAIL",
        action: "send",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "lpMapiMessage" lpMessage,
                        "FLAGS" flFlags, "ULONG" ulReserved),
        summary: "Sends a message (ANSI strings, or UTF-8 when lpMessage->ulReserved is CP_UTF8).",
    },
    Export {
        name: "MAPISendMailW",
        ordinal: 256,
        fn_type: "MAPISENDMAILW",
        action: "send",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "lpMapiMessageW" lpMessage,
                        "FLAGS" flFlags, "ULONG" ulReserved),
        summary: "Sends a message with UTF-16 strings.",
    },
    Export {
        name: "MAPISendDocuments",
        ordinal: 208,
        fn_type: "MAPISENDDOCUMENTS",
        action: "send",
        params: params!("ULONG_PTR" ulUIParam, "LPSTR" lpszDelimChar, "LPSTR" lpszFilePaths,
                        "LPSTR" lpszFileNames, "ULONG" ulReserved),
        summary: "Sends the listed files as a new message without recipients.",
    },
    Export {
        name: "MAPIFindNext",
        ordinal: 214,
        fn_type: "MAPIFINDNEXT",
        action: "find next",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "LPSTR" lpszMessageType,
                        "LPSTR" lpszSeedMessageID, "FLAGS" flFlags, "ULONG" ulReserved,
                        "LPSTR" lpszMessageID [out]),
        summary: "Finds the next message ID in the mailbox.",
    },
    Export {
        name: "MAPIReadMail",
        ordinal: 213,
        fn_type: "MAPIREADMAIL",
        action: "read",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "LPSTR" lpszMessageID,
                        "FLAGS" flFlags, "ULONG" ulReserved, "lpMapiMessage *" lppMessage),
        summary: "Reads a message; free the result with one MAPIFreeBuffer.",
    },
    Export {
        name: "MAPISaveMail",
        ordinal: 212,
        fn_type: "MAPISAVEMAIL",
        action: "save",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "lpMapiMessage" lpMessage,
                        "FLAGS" flFlags, "ULONG" ulReserved, "LPSTR" lpszMessageID [out]),
        summary: "Saves a message and returns its ID.",
    },
    Export {
        name: "MAPIDeleteMail",
        ordinal: 215,
        fn_type: "MAPIDELETEMAIL",
        action: "delete",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "LPSTR" lpszMessageID,
                        "FLAGS" flFlags, "ULONG" ulReserved),
        summary: "Deletes a message.",
    },
    Export {
        name: "MAPIFreeBuffer",
        ordinal: 16,
        fn_type: "MAPIFREEBUFFER",
        action: "free buffer",
        params: params!("LPVOID" pv),
        summary: "Frees a block this library returned; anything else is refused, never touched.",
    },
    Export {
        name: "MAPIAddress",
        ordinal: 217,
        fn_type: "MAPIADDRESS",
        action: "address",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "LPSTR" lpszCaption,
                        "ULONG" nEditFields, "LPSTR" lpszLabels, "ULONG" nRecips,
                        "lpMapiRecipDesc" lpRecips, "FLAGS" flFlags, "ULONG" ulReserved,
                        "LPULONG" lpnNewRecips, "lpMapiRecipDesc *" lppNewRecips),
        summary: "Address-book dialog.",
    },
    Export {
        name: "MAPIDetails",
        ordinal: 218,
        fn_type: "MAPIDETAILS",
        action: "details",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "lpMapiRecipDesc" lpRecip,
                        "FLAGS" flFlags, "ULONG" ulReserved),
        summary: "Recipient details dialog.",
    },
    Export {
        name: "MAPIResolveName",
        ordinal: 219,
        fn_type: "MAPIRESOLVENAME",
        action: "resolve",
        params: params!("LHANDLE" lhSession, "ULONG_PTR" ulUIParam, "LPSTR" lpszName,
                        "FLAGS" flFlags, "ULONG" ulReserved, "lpMapiRecipDesc *" lppRecip),
        summary: "Resolves a name to one recipient; free it with one MAPIFreeBuffer.",
    },
];

/// Ordinal of the `MAPIFreeBuffer@4` alias native mapi32.dll exports.
pub const FREE_BUFFER_ALIAS_ORDINAL: u16 = 17;

/// What the header generators do: write `include/<name>` from `fresh`, or with `--check`
/// only compare and fail when the committed file differs.
pub fn write_or_check_header(name: &str, bin: &str, fresh: &str) -> std::process::ExitCode {
    use std::process::ExitCode;
    let check = std::env::args().any(|a| a == "--check");
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../include/{name}"));
    if check {
        return match std::fs::read_to_string(&path) {
            Ok(committed) if committed == fresh => ExitCode::SUCCESS,
            _ => {
                eprintln!(
                    "{} is stale: run `cargo run -p mapishim-abi --bin {bin}`",
                    path.display()
                );
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = std::fs::write(&path, fresh) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {}", path.display());
    ExitCode::SUCCESS
}

/// Soname of the Linux library.
pub const SONAME: &str = "libmapi32.so.1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_resources_give_four_numbers_and_the_names() {
        let rc = render_version_rc(&VersionInfo {
            version: "1.22.3-beta.2",
            dll: true,
            description: "a \"quoted\" tool",
            original_file_name: "mapi32.dll",
        });
        assert!(
            rc.contains("FILEVERSION 1,22,3,0\nPRODUCTVERSION 1,22,3,0\n"),
            "{rc}"
        );
        assert!(rc.contains("FILETYPE 0x2L"), "{rc}");
        assert!(
            rc.contains(r#"VALUE "FileDescription", "a ""quoted"" tool""#),
            "{rc}"
        );
        assert!(rc.contains(r#"VALUE "InternalName", "mapi32""#), "{rc}");
        assert!(
            rc.contains(r#"VALUE "FileVersion", "1.22.3-beta.2""#),
            "{rc}"
        );
    }

    #[test]
    fn thirteen_exports_with_unique_names_and_ordinals() {
        assert_eq!(EXPORTS.len(), 13);
        let mut names: Vec<_> = EXPORTS.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 13);
        let mut ordinals: Vec<_> = EXPORTS.iter().map(|e| e.ordinal).collect();
        ordinals.push(FREE_BUFFER_ALIAS_ORDINAL);
        ordinals.sort();
        ordinals.dedup();
        assert_eq!(ordinals.len(), 14);
    }

    #[test]
    fn impl_names_are_snake_case() {
        let send_w = EXPORTS.iter().find(|e| e.name == "MAPISendMailW").unwrap();
        assert_eq!(send_w.impl_name(), "send_mail_w");
        let free = EXPORTS.iter().find(|e| e.name == "MAPIFreeBuffer").unwrap();
        assert_eq!(free.impl_name(), "free_buffer");
    }

    #[test]
    fn constants_match_the_specification() {
        assert_eq!(MAPI_DIALOG_MODELESS, 0x4 | MAPI_DIALOG);
        assert_eq!(MAPI_E_ATTACHMENT_TOO_LARGE, 28);
        assert_eq!(MAPI_E_AMBIG_RECIP, MAPI_E_AMBIGUOUS_RECIPIENT);
        let codes = CONSTANT_GROUPS
            .iter()
            .find(|g| g.title == "Return codes")
            .unwrap();
        assert_eq!(codes.constants.len(), 31);
    }

    #[test]
    fn every_return_code_has_one_enum_variant() {
        let codes = CONSTANT_GROUPS
            .iter()
            .find(|g| g.title == "Return codes")
            .unwrap();
        for (name, text) in codes.constants {
            // An alias's header text is its primary's name; the primary's is its value.
            let (primary, value) = match text.parse::<u32>() {
                Ok(v) => (*name, v),
                Err(_) => {
                    let (_, v) = codes.constants.iter().find(|(n, _)| n == text).unwrap();
                    (*text, v.parse::<u32>().unwrap())
                }
            };
            let code = MapiCode::from_u32(value).unwrap();
            assert_eq!(code.name(), primary, "{name}");
            assert_eq!(code as u32, value);
        }
        assert_eq!(MapiCode::ALL.len(), 28);
        assert_eq!(MapiCode::from_u32(7), None);
        assert_eq!(MapiCode::LogonFailure as u32, MAPI_E_LOGIN_FAILURE);
    }
}
