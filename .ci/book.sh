#!/usr/bin/env bash
# CI for the book: build it with a pinned mdBook and fail on what mdBook only warns about (or
# ignores): a broken {{#include}}, a missing image, a dead internal link, math mangled by the
# Markdown parser, a page that loads math, a script, a stylesheet or a font over the network.
# Then run every chapter example (examples/NN_*.rs) at its tiny CI size.
#
# Usage: .ci/book.sh        (from anywhere; needs cargo; installs mdbook if it is absent)
set -euo pipefail
cd "$(dirname "$0")/.."
MDBOOK_VERSION=0.5.4
EXAMPLE_TIMEOUT=60
start=$(date +%s)
step() { echo; echo "== $* ($(($(date +%s) - start)) s)"; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

step "mdbook $MDBOOK_VERSION"
if ! command -v mdbook >/dev/null 2>&1; then
    cargo install mdbook --version "$MDBOOK_VERSION" --locked
fi
installed=$(mdbook --version)
echo "$installed"
[[ "$installed" == *"$MDBOOK_VERSION"* ]] || echo "note: expected mdbook v$MDBOOK_VERSION, using $installed"

step "{{#include}} targets and anchors exist"
# mdBook logs a missing file but exits 0, and silently includes nothing for a missing anchor.
while IFS= read -r -d '' md; do
    dir=$(dirname "$md")
    while IFS= read -r spec; do
        target=${spec%%:*}
        rest=${spec#"$target"}
        file="$dir/$target"
        if [[ ! -f "$file" ]]; then
            fail "$md: {{#include $spec}}: no file $file"
            continue
        fi
        anchor=${rest#:}
        # An anchor is a name; line ranges (digits, ':' and '-') need no check.
        if [[ -n "$anchor" && ! "$anchor" =~ ^[0-9:-]*$ ]]; then
            grep -q "ANCHOR: $anchor\$" "$file" ||
                fail "$md: {{#include $spec}}: no 'ANCHOR: $anchor' in $file"
            grep -q "ANCHOR_END: $anchor\$" "$file" ||
                fail "$md: {{#include $spec}}: no 'ANCHOR_END: $anchor' in $file"
        fi
    done < <(grep -o '{{#include [^}]*}}' "$md" | sed -e 's/^{{#include //' -e 's/}}$//' -e 's/ *$//')
done < <(find book/src -name '*.md' -print0)

step "images and internal links exist"
while IFS= read -r -d '' md; do
    dir=$(dirname "$md")
    # Markdown links and images: ](target) — skip web links, mail, pure fragments and drafts.
    while IFS= read -r target; do
        target=${target%%#*}
        [[ -z "$target" ]] && continue
        case "$target" in http://* | https://* | mailto:*) continue ;; esac
        [[ -e "$dir/$target" ]] || fail "$md: link or image target '$target' does not exist"
    done < <(grep -o '](\([^)]*\))' "$md" | sed -e 's/^](//' -e 's/)$//' -e 's/ .*//')
done < <(find book/src -name '*.md' -print0)

step "every figure the book shows is written by an example"
while IFS= read -r figure; do
    name=$(basename "$figure")
    grep -q "\"$name\"" examples/*.rs || fail "figure $name is shown in the book but no example writes it"
done < <(grep -oh '](figures/[^)]*)' book/src/*.md | sed -e 's/^](//' -e 's/)$//' | sort -u)

step "mdbook build book"
log=$(mktemp)
mdbook build book 2>&1 | tee "$log"
if grep -E '(ERROR|WARN)' "$log" >/dev/null; then
    fail "mdbook reported errors or warnings (above)"
fi
rm -f "$log"
if grep -l '{{#include' book/book/*.html; then
    fail "rendered pages still contain {{#include (above)"
fi

step "MathJax spans were not mangled by Markdown emphasis"
if command -v perl >/dev/null 2>&1; then
    for html in book/book/*.html; do
        [[ "$(basename "$html")" == print.html ]] && continue
        perl -0777 -ne 'while (/\\\((.*?)\\\)|\\\[(.*?)\\\]/sg) { my $m = defined $1 ? $1 : $2;
            if ($m =~ /<\/?(em|strong)>/) { print "$ARGV: ", substr($m, 0, 80), "\n"; $bad = 1 } }
            END { exit($bad ? 1 : 0) }' "$html" || fail "$html: Markdown emphasis inside an equation (write x_i, not }_i or )_i)"
    done
else
    echo "perl not found: skipped"
fi

step "the built book loads nothing over the network (math, scripts, stylesheets, fonts)"
# A course lab may be offline: every script, stylesheet, font and image a page loads must come
# from the built book itself. Three checks:
#  1. No page (its tags, inline <style>/style="" and inline <script>) and no CSS file in the build
#     (mdBook's, the theme's, additional-css) names an http(s):// or protocol-relative // URL to
#     load. Plain <a href> links to the web are fine: nothing is fetched until a reader clicks.
#  2. Every local script and stylesheet a page loads is in the build, and so are MathJax's fonts
#     (book/src/mathjax/, loaded by book/theme/head.hbs).
#  3. No page has a Rust playground block: mdBook's book.js then fetches the playground's crate
#     list from the web on every page load (book.toml turns `runnable` off).
# The vendored MathJax bundle itself is not scanned: it names CDN URLs only inside its speech rule
# engine, as defaults that MathJax replaces with paths in its own folder and as fallbacks for old
# Internet Explorer; a page opened in a browser with no network requests nothing from the web.
if command -v perl >/dev/null 2>&1; then
    mapfile -t css_files < <(find book/book book/theme -name '*.css' 2>/dev/null)
    perl -0777 -ne '
        my $url = qr{(?:https?:)?//[^\s"\x27\x60)<>]*}i;
        if ($ARGV =~ /\.html$/) {
            while (/<(script|link|img|iframe|source|audio|video|embed|object|track)\b([^>]*)>/gis) {
                my ($tag, $attrs) = ($1, $2);
                while ($attrs =~ /\b(src|href|srcset|data|poster)\s*=\s*("[^"]*"|\x27[^\x27]*\x27|[^\s>]+)/gi) {
                    my ($name, $value) = ($1, $2);
                    $value =~ s/^["\x27]|["\x27]$//g;
                    if ($value =~ m{(?:^|[\s,])(?:https?:)?//}i) { print "$ARGV: <$tag $name=\"$value\">\n"; $bad = 1 }
                }
            }
            while (/<script\b[^>]*>(.*?)<\/script>/gis) {
                my $js = $1;
                while ($js =~ /["\x27\x60]($url)/g) { print "$ARGV: inline script names $1\n"; $bad = 1 }
            }
        }
        # CSS, in a .css file or inline in a page.
        while (/(\@import\s+(?:url\(\s*)?["\x27]?\s*$url|url\(\s*["\x27]?\s*$url)/gi) { print "$ARGV: $1\n"; $bad = 1 }
        END { exit($bad ? 1 : 0) }' book/book/*.html "${css_files[@]}" ||
        fail "the built book loads a script, stylesheet, font or image over the network (above)"
    # 2. What the pages load locally is there (without ?query or #fragment).
    while IFS= read -r target; do
        [[ -f "book/book/${target%%[?#]*}" ]] || fail "a page loads '$target', which is not in book/book/"
    done < <(perl -ne 'while (/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/gi) { print "$1\n" unless $1 =~ m{^(?:[a-z]+:|//)}i }' book/book/*.html | sort -u)
    fonts=(book/book/mathjax/output/chtml/fonts/woff-v2/*.woff)
    [[ -f "${fonts[0]}" ]] || fail "MathJax's CHTML fonts are not in book/book/mathjax/output/chtml/fonts/woff-v2/"
    # 3. Rust playground blocks.
    if grep -l 'class="playground"' book/book/*.html; then
        fail "pages with a Rust playground block (above): book.js fetches from the web on load"
    fi
else
    echo "perl not found: skipped"
fi

step "no TeX spacing or brace lost to a Markdown escape (write \\\\, not \\, in the .md source)"
# Markdown turns \, \; \: \! \{ \} \| into the bare character; in equations they must be doubled.
if command -v perl >/dev/null 2>&1; then
    for md in book/src/*.md; do
        perl -ne 'BEGIN { $fence = 0 } if (/^\s*```/) { $fence = !$fence; next } next if $fence;
            s/`[^`]*`//g; if (/(?<!\\)\\[,;:!{}|]/) { print "$ARGV:$.: $_"; $bad = 1 }
            END { exit($bad ? 1 : 0) }' "$md" || fail "$md: single backslash before punctuation (above)"
    done
else
    echo "perl not found: skipped"
fi

step "chapter examples at tiny size (LUMBAR_BOOK_TINY=1, ${EXAMPLE_TIMEOUT} s each)"
mapfile -t examples < <(find examples -maxdepth 1 -name '[0-9][0-9]_*.rs' -printf '%f\n' | sed 's/\.rs$//' | sort)
if ((${#examples[@]} > 0)); then
    args=()
    for e in "${examples[@]}"; do args+=(--example "$e"); done
    cargo build --release "${args[@]}"
    for e in "${examples[@]}"; do
        t0=$(date +%s%N)
        if LUMBAR_BOOK_TINY=1 timeout "$EXAMPLE_TIMEOUT" "target/release/examples/$e" >/dev/null; then
            printf '%-32s ok   %6d ms\n' "$e" $((($(date +%s%N) - t0) / 1000000))
        else
            fail "example $e failed or took longer than ${EXAMPLE_TIMEOUT} s"
        fi
    done
fi

step "done"
if ((failures > 0)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "book OK"
