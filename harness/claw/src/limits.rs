/// Bounds an archive must stay within to be imported. Defaults suit a krill's volume; the CLI
/// can raise each one (`--max-total-bytes`, `--max-entries`, `--max-ratio`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Sum of the declared uncompressed sizes. Actual output is checked against the declared
    /// size of each entry, so a lying header cannot exceed this either.
    pub max_total_bytes: u64,
    /// Number of entries (files and directories) in the archive.
    pub max_entries: u64,
    /// Largest uncompressed:compressed ratio of a single entry.
    pub max_ratio: u64,
    /// Entries smaller than this are exempt from the ratio check: a tiny file of zeros has a
    /// huge ratio and no power to hurt.
    pub ratio_min_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_bytes: 32 << 30,
            max_entries: 250_000,
            max_ratio: 1000,
            ratio_min_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// No limits beyond what the format itself allows. For trusted archives only.
    pub fn unlimited() -> Self {
        Limits {
            max_total_bytes: u64::MAX,
            max_entries: u64::MAX,
            max_ratio: u64::MAX,
            ratio_min_bytes: u64::MAX,
        }
    }
}

/// Parses `1234`, `64K`, `512MiB`, `32G`, `1TiB` (binary multiples) into bytes; Kubernetes'
/// spelling (`5Gi`) too, since chart values pass sizes through as written.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (expected e.g. 4096, 64M, 32GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "ki" | "kib" => 10,
        "m" | "mb" | "mi" | "mib" => 20,
        "g" | "gb" | "gi" | "gib" => 30,
        "t" | "tb" | "ti" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (use K, M, G or T)"
            ));
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("4096", 4096)]
    #[case("64K", 64 << 10)]
    #[case("512MiB", 512 << 20)]
    #[case("32g", 32 << 30)]
    #[case("5Gi", 5 << 30)]
    #[case("100Mi", 100 << 20)]
    fn parses_sizes(#[case] text: &str, #[case] bytes: u64) {
        assert_eq!(parse_size(text), Ok(bytes));
    }

    #[rstest]
    #[case("")]
    #[case("12Q")]
    #[case("G")]
    #[case("99999999999T")]
    fn rejects_bad_sizes(#[case] text: &str) {
        assert!(parse_size(text).is_err());
    }
}
