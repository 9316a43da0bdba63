//! The adapter over loopback, once per enabled runtime feature: servers (Maildir delivery,
//! STARTTLS with injected commands, AUTH, the connection limit, graceful shutdown, timeouts,
//! broken connections) and clients (several messages with per-recipient results, streamed
//! bodies, STARTTLS, implicit TLS, timeouts, certificate pinning). The cross-adapter suite
//! in `tests/` runs the same scenarios against smtp-tokio too.

mod common;

/// One `#[test]` per body of `common`, for runtime `$runtime` run by `$block_on`.
macro_rules! tests_for {
    ($module:ident, $runtime:ty, $block_on:path) => {
        mod $module {
            use std::future::Future;
            use std::pin::Pin;

            fn block_on(future: Pin<Box<dyn Future<Output = ()> + Send>>) {
                $block_on(future)
            }

            #[test]
            fn server_stores_a_message() {
                crate::common::server_stores_a_message::<$runtime>(block_on);
            }

            #[test]
            fn server_starttls_discards_injected_commands_and_authenticates() {
                crate::common::server_starttls_discards_injected_commands_and_authenticates::<
                    $runtime,
                >(block_on);
            }

            #[test]
            fn server_over_the_limit_says_421() {
                crate::common::server_over_the_limit_says_421::<$runtime>(block_on);
            }

            #[test]
            fn server_shutdown_is_graceful() {
                crate::common::server_shutdown_is_graceful::<$runtime>(block_on);
            }

            #[test]
            fn server_timeouts_and_broken_connections() {
                crate::common::server_timeouts_and_broken_connections::<$runtime>(block_on);
            }

            #[test]
            fn client_delivers_several_messages_with_per_recipient_results() {
                crate::common::client_delivers_several_messages_with_per_recipient_results::<
                    $runtime,
                >(block_on);
            }

            #[test]
            fn client_over_starttls_with_auth_and_implicit_tls() {
                crate::common::client_over_starttls_with_auth_and_implicit_tls::<$runtime>(
                    block_on,
                );
            }

            #[test]
            fn client_timeouts_and_certificate_mismatch() {
                crate::common::client_timeouts_and_certificate_mismatch::<$runtime>(block_on);
            }
        }
    };
}

#[cfg(feature = "async-std")]
tests_for!(
    on_async_std,
    smtp_async_std::AsyncStd,
    async_std::task::block_on
);

#[cfg(feature = "smol")]
tests_for!(on_smol, smtp_async_std::Smol, smol::block_on);
