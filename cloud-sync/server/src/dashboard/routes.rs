//! Every dashboard route with who may use it, registered in one place.
//!
//! A page module adds its routes through [`Routes`], which puts each one on
//! the router and in a table beside it. The table is what the tenant
//! isolation test walks ([`super::route_table`]): a route added later is
//! covered without editing the test, because there is no other way to add
//! one.

use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{get, post};

use crate::api::AppState;

/// Who a route is for. The handler enforces it (through
/// [`super::session::SignedIn`] and its `require_*`); the table says what
/// the test should expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Signed out too: sign-in, a forgotten password, a set-password link.
    Anyone,
    /// Any signed-in person, about themselves (signing out).
    Yourself,
    /// An owner or staff of the practice: staff read, operators are sent to
    /// the fleet.
    Member,
    /// Only the practice's owner.
    Owner,
    /// Only the platform's operators.
    Operator,
}

#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub method: Method,
    /// The path as axum writes it, with `{param}` segments.
    pub path: &'static str,
    pub access: Access,
}

/// The router and its table, built together.
pub struct Routes {
    router: Router<Arc<AppState>>,
    table: Vec<RouteInfo>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    pub fn get<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Routes
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        self.router = self.router.route(path, get(handler));
        self.table.push(RouteInfo {
            method: Method::GET,
            path,
            access,
        });
        self
    }

    pub fn post<H, T>(mut self, path: &'static str, access: Access, handler: H) -> Routes
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        self.router = self.router.route(path, post(handler));
        self.table.push(RouteInfo {
            method: Method::POST,
            path,
            access,
        });
        self
    }

    pub fn into_parts(self) -> (Router<Arc<AppState>>, Vec<RouteInfo>) {
        (self.router, self.table)
    }
}
