//! What CPU a measurement ran on: every speed figure of the project names it, because the
//! machines it runs on change (an AVX2-only CPU and an AVX-512 one run different kernels).

/// One line naming the CPU and the vector extensions the kernels can use, e.g.
/// `CPU: AMD EPYC (family 26, model 2); AVX2+FMA yes, AVX-512F yes`. Read from
/// `/proc/cpuinfo` (model name, family, model) and from the running CPU itself
/// (`is_x86_feature_detected!`); parts that cannot be read are said to be unknown.
pub fn cpu_description() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|line| line.split(':').next().map(str::trim) == Some(name))
            .and_then(|line| line.split_once(':'))
            .map(|(_, value)| value.trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    format!(
        "CPU: {} (family {}, model {}); {}",
        field("model name"),
        field("cpu family"),
        field("model"),
        vector_extensions()
    )
}

/// Which of the vector extensions the project's kernels use this CPU has.
#[cfg(target_arch = "x86_64")]
fn vector_extensions() -> String {
    let yes_no = |present: bool| if present { "yes" } else { "no" };
    format!(
        "AVX2+FMA {}, AVX-512F {}",
        yes_no(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")),
        yes_no(is_x86_feature_detected!("avx512f"))
    )
}

/// Which of the vector extensions the project's kernels use this CPU has (none off x86-64).
#[cfg(not(target_arch = "x86_64"))]
fn vector_extensions() -> String {
    "not an x86-64 CPU: portable kernels only".into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_description_names_the_cpu_and_its_extensions() {
        let line = super::cpu_description();
        println!("{line}");
        assert!(line.starts_with("CPU: "), "{line}");
        #[cfg(target_arch = "x86_64")]
        assert!(
            line.contains("AVX2+FMA ") && line.contains("AVX-512F "),
            "{line}"
        );
    }
}
