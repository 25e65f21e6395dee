//! Code generation.
//!
//! Input (sync):
//! ```text
//! #[profx::agent(request = q)] fn run(&self, q: String, mut n: u32) -> Result<T, E> { body }
//! ```
//! Output:
//! ```text
//! fn run(&self, q: String, n: u32) -> Result<T, E> {
//!     static SITE: Site = Site::new("run");
//!     let mut state = AgentState::new(&SITE, Some(format_args!("{}", q)));
//!     let ret: Result<T, E> = state.run_sync(move || { let q = q; let mut n = n; body });
//!     state.finish(<outcome of &ret>);
//!     ret
//! }
//! ```
//! The closure keeps `?` and `return` inside the timed region and lets the outcome be read; the
//! arguments are moved in and re-bound in order, as rustc lowers `async fn`, so they drop in the
//! same order as before. An `async fn` gets the same shape with `async move { .. }` and `.await`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

use crate::args::{Args, Kind};

/// The instrumented function.
pub(crate) fn expand(kind: Kind, args: Args, mut item: ItemFn) -> TokenStream {
    if kind == Kind::Main {
        return expand_main(item);
    }
    let site = Ident::new("__PROFX_SITE", Span::mixed_site());
    let state = Ident::new("__profx_state", Span::mixed_site());
    let ret = Ident::new("__profx_ret", Span::mixed_site());
    let inner = Ident::new("__profx_inner", Span::mixed_site());

    let name = match &args.name {
        Some(lit) => quote!(#lit),
        None => {
            let s = item.sig.ident.to_string();
            quote!(#s)
        }
    };
    let is_async = item.sig.asyncness.is_some();
    let rebinds = rebind_args(&mut item);

    let (ret_ty, diverges) = match &item.sig.output {
        ReturnType::Default => (None, false),
        ReturnType::Type(_, ty) => (
            Some(erase_impl_trait((**ty).clone())),
            matches!(**ty, Type::Never(_)),
        ),
    };
    let annot = ret_ty.as_ref().map(|t| quote!(: #t));
    let outcome = if returns_result(&item.sig.output) {
        quote! {{
            #[allow(unused_imports)]
            use ::profx::__private::{ViaDisplay as _, ViaDebug as _, ViaResult as _};
            (&&&#ret).__profx_outcome()
        }}
    } else {
        quote!(::profx::__private::success())
    };

    let start = match kind {
        Kind::Agent => {
            let request = match &args.request {
                Some(expr) => quote!(::core::option::Option::Some(
                    ::core::format_args!("{}", #expr)
                )),
                None => quote!(::core::option::Option::None),
            };
            quote!(::profx::__private::AgentState::new(&#site, #request))
        }
        _ if is_async => quote!(::profx::__private::PhaseSpan::new_async(&#site)),
        _ => quote!(::profx::__private::PhaseSpan::new(&#site)),
    };

    let block = &item.block;
    let stmts = &block.stmts;
    // `-> T` on the closure is only written when T has no inferred parts.
    let annot_closure = match &ret_ty {
        Some(t) if !has_infer(t) => quote!(-> #t),
        _ => quote!(),
    };
    let run = if is_async {
        quote! {
            #state.run(async move {
                #(#rebinds)*
                let #inner #annot = { #(#stmts)* };
                #inner
            }).await
        }
    } else {
        quote! {
            #state.run_sync(move || #annot_closure {
                #(#rebinds)*
                #(#stmts)*
            })
        }
    };

    let body = if diverges {
        quote! {
            static #site: ::profx::__private::Site = ::profx::__private::Site::new(#name);
            let mut #state = #start;
            #run
        }
    } else {
        quote! {
            static #site: ::profx::__private::Site = ::profx::__private::Site::new(#name);
            let mut #state = #start;
            let #ret #annot = #run;
            #state.finish(#outcome);
            #ret
        }
    };
    let brace = block.brace_token.span.join();
    item.block =
        Box::new(syn::parse2(quote_spanned!(brace=> { #body })).expect("generated block parses"));
    quote!(#item)
}

fn expand_main(mut item: ItemFn) -> TokenStream {
    let guard = Ident::new("__profx_report", Span::mixed_site());
    let block = &item.block;
    let stmts = &block.stmts;
    let brace = block.brace_token.span.join();
    item.block = Box::new(
        syn::parse2(quote_spanned!(brace=> {
            let #guard = ::profx::ReportGuard::from_env();
            #(#stmts)*
        }))
        .expect("generated block parses"),
    );
    quote!(#item)
}

/// Whether the return type's last path segment is `Result`.
fn returns_result(output: &ReturnType) -> bool {
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let mut ty = &**ty;
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => break,
        }
    }
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// The type with every `impl Trait` replaced by `_`.
fn erase_impl_trait(mut ty: Type) -> Type {
    struct Erase;
    impl VisitMut for Erase {
        fn visit_type_mut(&mut self, t: &mut Type) {
            if let Type::ImplTrait(it) = t {
                let span = it.impl_token.span;
                *t = Type::Infer(syn::TypeInfer {
                    underscore_token: syn::Token![_](span),
                });
                return;
            }
            syn::visit_mut::visit_type_mut(self, t);
        }
    }
    Erase.visit_type_mut(&mut ty);
    ty
}

fn has_infer(ty: &Type) -> bool {
    struct Find(bool);
    impl<'a> syn::visit::Visit<'a> for Find {
        fn visit_type_infer(&mut self, _: &'a syn::TypeInfer) {
            self.0 = true;
        }
    }
    let mut f = Find(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}

/// `let x = x;` for every binding of the arguments, in order; `mut` moves from the signature
/// to the re-binding (as rustc does for `async fn`).
fn rebind_args(item: &mut ItemFn) -> Vec<TokenStream> {
    let mut out = Vec::new();
    for arg in item.sig.inputs.iter_mut() {
        let FnArg::Typed(pt) = arg else { continue };
        let mut bindings = Vec::new();
        collect_bindings(&mut pt.pat, &mut bindings);
        for (ident, mutable) in bindings {
            let m = mutable.then(|| quote!(mut));
            out.push(quote!(let #m #ident = #ident;));
        }
    }
    out
}

fn collect_bindings(pat: &mut Pat, out: &mut Vec<(Ident, bool)>) {
    struct Collect<'a>(&'a mut Vec<(Ident, bool)>);
    impl VisitMut for Collect<'_> {
        fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
            if p.ident == "self" {
                return;
            }
            let mutable = p.by_ref.is_none() && p.mutability.is_some();
            if mutable {
                p.mutability = None;
            }
            self.0.push((p.ident.clone(), mutable));
            if let Some((_, sub)) = &mut p.subpat {
                self.visit_pat_mut(sub);
            }
        }
    }
    Collect(out).visit_pat_mut(pat);
}
