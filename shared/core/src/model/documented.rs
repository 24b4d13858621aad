//! The values SES documents for its enumerated fields, in one place, and what a value outside
//! them becomes. SES's rates depend on `bounceType` alone (only `Permanent` counts), so a value
//! SES never documented must neither pass silently nor be guessed at without a trace: where it
//! plainly means a documented value it is mapped, and either way the original is kept and
//! counted (the record's `undocumented_values`, the `undocumented` counter, the ingest metric).

/// One enumerated SES field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's path in the SES message, as `undocumented_values` names it.
    pub path: &'static str,
    /// What SES documents, in its spelling.
    pub documented: &'static [&'static str],
    /// Undocumented spellings seen in the wild, and the documented value each means.
    pub aliases: &'static [(&'static str, &'static str)],
}

/// The bounce and complaint subtypes of an address SES did not send to because it is on a
/// suppression list: the account's, or (SES tenants, 2025) the tenant's own. No mailbox provider
/// saw these messages, so SES's bounce rate leaves such bounces out and they are no complaint
/// from a mailbox; both subtypes are treated alike everywhere.
pub const SUPPRESSION_LIST_SUBTYPES: &[&str] =
    &["OnAccountSuppressionList", "OnTenantSuppressionList"];

pub fn is_suppression_list_subtype(subtype: Option<&str>) -> bool {
    subtype.is_some_and(|s| SUPPRESSION_LIST_SUBTYPES.contains(&s))
}

/// The message tag SES adds to the events of a message sent for one of its tenants
/// (`TenantName` on `SendEmail`, `X-SES-TENANT` over SMTP): a built-in scope.
pub const SES_TENANT_TAG: &str = "ses:tenant-name";

/// `bounce.bounceType`: the only field SES's bounce rate reads.
pub const BOUNCE_TYPE: Field = Field {
    path: "bounce.bounceType",
    documented: &["Undetermined", "Permanent", "Transient"],
    // `Temporary` comes from hand-made and third-party payloads; "soft" and "hard" are what
    // other senders call the two classes.
    aliases: &[
        ("temporary", "Transient"),
        ("soft", "Transient"),
        ("hard", "Permanent"),
    ],
};

pub const BOUNCE_SUBTYPE: Field = Field {
    path: "bounce.bounceSubType",
    documented: &[
        "Undetermined",
        "General",
        "NoEmail",
        "Suppressed",
        "OnAccountSuppressionList",
        // SES tenants (2025): the tenant's own suppression list, like the account's.
        "OnTenantSuppressionList",
        "MailboxFull",
        "MessageTooLarge",
        "ContentRejected",
        "AttachmentRejected",
    ],
    aliases: &[],
};

/// `complaint.complaintFeedbackType`: the IANA feedback types SES passes on.
pub const COMPLAINT_FEEDBACK_TYPE: Field = Field {
    path: "complaint.complaintFeedbackType",
    documented: &[
        "abuse",
        "auth-failure",
        "fraud",
        "not-spam",
        "other",
        "virus",
    ],
    aliases: &[],
};

/// `complaint.complaintSubType`: `null` or a suppression list. SES documents only the account's
/// for complaints; the tenant's is the same case for a tenant with its own list.
pub const COMPLAINT_SUBTYPE: Field = Field {
    path: "complaint.complaintSubType",
    documented: SUPPRESSION_LIST_SUBTYPES,
    aliases: &[],
};

pub const DELAY_TYPE: Field = Field {
    path: "deliveryDelay.delayType",
    documented: &[
        "InternalFailure",
        "General",
        "MailboxFull",
        "SpamDetected",
        "RecipientServerError",
        "IPFailure",
        "TransientCommunicationFailure",
        "BYOIPHostNameLookupUnavailable",
        "Undetermined",
        "SendingDeferral",
    ],
    aliases: &[],
};

/// A value read from an enumerated field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The documented value, where SES's or a known alias fits; else the value as sent.
    pub value: String,
    /// `path=original`, when the value as sent is not documented.
    pub undocumented: Option<String>,
}

impl Field {
    /// Reads `raw`: a documented value passes as it is; a documented value in another case or a
    /// known alias is mapped and noted; anything else is kept and noted.
    pub fn check(&self, raw: &str) -> Checked {
        if self.documented.contains(&raw) {
            return Checked {
                value: raw.to_string(),
                undocumented: None,
            };
        }
        let trimmed = raw.trim();
        let mapped = self
            .documented
            .iter()
            .find(|d| d.eq_ignore_ascii_case(trimmed))
            .or_else(|| {
                self.aliases
                    .iter()
                    .find(|(alias, _)| alias.eq_ignore_ascii_case(trimmed))
                    .map(|(_, to)| to)
            });
        Checked {
            value: mapped.map_or_else(|| raw.to_string(), |d| d.to_string()),
            undocumented: Some(format!("{}={raw}", self.path)),
        }
    }

    /// The field name of an `undocumented_values` entry (`bounce.bounceType`).
    pub fn path_of(entry: &str) -> &str {
        entry.split_once('=').map_or(entry, |(path, _)| path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_values_pass_untouched() {
        for field in [
            BOUNCE_TYPE,
            BOUNCE_SUBTYPE,
            COMPLAINT_FEEDBACK_TYPE,
            COMPLAINT_SUBTYPE,
            DELAY_TYPE,
        ] {
            for value in field.documented {
                assert_eq!(
                    field.check(value),
                    Checked {
                        value: value.to_string(),
                        undocumented: None
                    }
                );
            }
        }
    }

    #[test]
    fn what_plainly_means_a_documented_value_is_mapped_and_noted() {
        assert_eq!(
            BOUNCE_TYPE.check("Temporary"),
            Checked {
                value: "Transient".into(),
                undocumented: Some("bounce.bounceType=Temporary".into())
            }
        );
        assert_eq!(BOUNCE_TYPE.check("permanent").value, "Permanent");
        assert_eq!(BOUNCE_TYPE.check(" Hard ").value, "Permanent");
        assert_eq!(COMPLAINT_FEEDBACK_TYPE.check("Abuse").value, "abuse");
    }

    #[test]
    fn anything_else_is_kept_as_sent_and_noted() {
        let checked = BOUNCE_TYPE.check("Mystery");
        assert_eq!(checked.value, "Mystery");
        assert_eq!(
            checked.undocumented.as_deref(),
            Some("bounce.bounceType=Mystery")
        );
        assert_eq!(
            Field::path_of("bounce.bounceType=Mystery"),
            "bounce.bounceType"
        );
    }
}
