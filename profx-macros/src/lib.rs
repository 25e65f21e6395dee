//! Attribute macros of [profx](https://docs.rs/profx). Use them through the facade:
//! `#[profx::agent]`, `#[profx::phase]`, `#[profx::main]`.
//!
//! Without the `enabled` feature each attribute still checks its arguments (so a mistake fails
//! the same way in both builds) and then emits the item exactly as written.

mod args;
mod expand;
mod valid;

use proc_macro::TokenStream;

use args::Kind;

/// Marks a function as an agent: each call is one execution. See the `profx` crate.
#[proc_macro_attribute]
pub fn agent(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Agent, args.into(), item.into()).into()
}

/// Marks a function as a phase: a step timed inside whatever execution calls it.
#[proc_macro_attribute]
pub fn phase(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Phase, args.into(), item.into()).into()
}

/// On `fn main`: writes the report when `main` returns or panics.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Main, args.into(), item.into()).into()
}

fn entry(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
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
