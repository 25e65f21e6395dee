//! Attribute macros of [profx](https://docs.rs/profx). Use them through the facade:
//! `#[profx::agent]`, `#[profx::phase]`, `#[profx::main]`.
//!
//! Without the `enabled` feature each attribute still checks its arguments (so a mistake fails
//! the same way in both builds) and then emits the item exactly as written.

mod args;
mod bulk;
mod expand;
mod valid;

use proc_macro::TokenStream;

use args::Kind;

/// Marks a function as an agent: each call is one execution; on an `impl` block or an inline
/// `mod`, every function inside. See the `profx` crate.
#[proc_macro_attribute]
pub fn agent(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Agent, args.into(), item.into()).into()
}

/// Marks a function as a phase: a step timed inside whatever execution calls it; on an `impl`
/// block or an inline `mod`, every function inside.
#[proc_macro_attribute]
pub fn phase(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Phase, args.into(), item.into()).into()
}

/// On `fn main`: writes the report when `main` returns or panics.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Main, args.into(), item.into()).into()
}

/// Inside an `impl` block or a `mod` marked `#[profx::phase]` or `#[profx::agent]`: leaves this
/// item out. The block's attribute removes it; anywhere else it is an error (it would mean
/// nothing).
#[proc_macro_attribute]
pub fn skip(args: TokenStream, item: TokenStream) -> TokenStream {
    skip_entry(args.into(), item.into()).into()
}

fn skip_entry(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let err = if args.is_empty() {
        // At the item it is on (a span of the user's, not of the macro's).
        let at = item
            .clone()
            .into_iter()
            .next()
            .map_or_else(proc_macro2::Span::call_site, |t| t.span());
        syn::Error::new(
            at,
            "#[profx::skip] only means something on an item inside an `impl` block or a `mod` marked #[profx::phase] or #[profx::agent] (which leave it out); remove it here",
        )
    } else {
        syn::Error::new_spanned(
            &args,
            "#[profx::skip] takes no arguments; write #[profx::skip]",
        )
    };
    let err = err.to_compile_error();
    quote::quote!(#err #item)
}

fn entry(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    if kind != Kind::Main {
        if let Some(block) = bulk::applies(&item) {
            return bulk::expand(kind, args, block);
        }
    }
    match valid::check(kind, args, item.clone()) {
        Ok((args, func)) => {
            if cfg!(feature = "enabled") {
                expand::expand(kind, args, func)
            } else {
                item
            }
        }
        // The error, next to the item as written, so the rest of the crate still type-checks.
        Err(e) => {
            let err = e.to_compile_error();
            quote::quote!(#err #item)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn item() -> proc_macro2::TokenStream {
        quote! {
            /// Docs.
            #[must_use]
            pub(crate) unsafe fn f<'a, T: Clone, const N: usize>(mut x: &'a T, _: [u8; N]) -> Result<T, String>
            where
                T: Send,
            {
                Ok(x.clone())
            }
        }
    }

    #[test]
    #[cfg(not(feature = "enabled"))]
    fn without_the_feature_the_item_is_emitted_token_for_token() {
        for kind in [Kind::Agent, Kind::Phase] {
            let out = entry(kind, quote!(name = "x"), item());
            assert_eq!(out.to_string(), item().to_string());
        }
        let main = quote!(
            fn main() {
                println!("hi");
            }
        );
        assert_eq!(
            entry(Kind::Main, quote!(), main.clone()).to_string(),
            main.to_string()
        );
    }

    #[test]
    #[cfg(feature = "enabled")]
    fn with_the_feature_the_body_is_wrapped_and_the_signature_kept() {
        let out = entry(Kind::Agent, quote!(name = "x"), item()).to_string();
        assert!(out.contains("SyncAgent :: < __ProfxSite > :: run"), "{out}");
        let with_request = entry(Kind::Agent, quote!(request = "r"), item()).to_string();
        assert!(with_request.contains("AgentState :: new"), "{with_request}");
        assert!(out.contains("# [must_use]"), "{out}");
        assert!(
            out.contains("pub (crate) unsafe fn f < 'a , T : Clone , const N : usize >"),
            "{out}"
        );
    }

    #[test]
    fn misuse_emits_the_error_next_to_the_unmodified_item() {
        let out = entry(Kind::Agent, quote!(bogus = 1), item()).to_string();
        assert!(out.starts_with(":: core :: compile_error !"), "{out}");
        assert!(out.ends_with(&item().to_string()), "{out}");
    }
}
