//! The OpenAPI 3.0 document of the provisioning API, written by hand so that it says exactly
//! what [`crate::rest`] does (checked by a test that every routed path is described).

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_body(schema: &str) -> Value {
    json!({ "content": { "application/json": { "schema": { "$ref": schema } } } })
}

/// The document served at `GET /openapi.json`.
pub fn document() -> Value {
    let impi_param = json!({
        "name": "impi", "in": "path", "required": true,
        "description": "Private user identity, e.g. alice@ims.example",
        "schema": { "type": "string" }
    });
    let notify_responses = json!({
        "200": { "description": "Sent and answered DIAMETER_SUCCESS; the list of S-CSCFs and identities",
                 "content": { "application/json": { "schema": { "type": "object" } } } },
        "404": error_response("No such subscriber"),
        "409": error_response("The user has no assigned S-CSCF"),
        "502": error_response("The S-CSCF did not answer or refused"),
        "503": error_response("No Diameter node is running")
    });
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "hss-sim provisioning API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Subscribers of the HSS simulator (IMS subscription: IMPI, keys, service profiles with public identities and initial filter criteria), their registration state, and network-initiated Cx procedures (RTR, PPR; TS 29.228 §6.2)."
        },
        "paths": {
            "/subscribers": {
                "get": {
                    "summary": "List subscribers",
                    "responses": { "200": { "description": "All subscribers",
                        "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Subscriber" } } } } } }
                },
                "post": {
                    "summary": "Create a subscriber",
                    "requestBody": json_body("#/components/schemas/Subscriber"),
                    "responses": {
                        "201": { "description": "Created", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Subscriber" } } } },
                        "400": error_response("Malformed JSON or wrong field types"),
                        "409": error_response("The IMPI exists or a public identity belongs to another subscriber"),
                        "422": error_response("Invalid subscriber; `field` names the offending key")
                    }
                }
            },
            "/subscribers/{impi}": {
                "parameters": [impi_param],
                "get": {
                    "summary": "Read a subscriber",
                    "responses": {
                        "200": { "description": "The subscriber", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Subscriber" } } } },
                        "404": error_response("No such subscriber")
                    }
                },
                "put": {
                    "summary": "Replace a subscriber (registration state kept; SQN never decreases)",
                    "requestBody": json_body("#/components/schemas/Subscriber"),
                    "responses": {
                        "200": { "description": "Updated", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Subscriber" } } } },
                        "400": error_response("Malformed JSON"),
                        "404": error_response("No such subscriber"),
                        "409": error_response("A public identity belongs to another subscriber"),
                        "422": error_response("Invalid subscriber or impi differs from the path")
                    }
                },
                "delete": {
                    "summary": "Delete a subscriber with its registrations",
                    "responses": { "204": { "description": "Deleted" }, "404": error_response("No such subscriber") }
                }
            },
            "/subscribers/{impi}/rtr": {
                "parameters": [impi_param],
                "post": {
                    "summary": "Administrative de-registration: send RTR to the assigned S-CSCF(s)",
                    "requestBody": { "required": false, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RtrRequest" } } } },
                    "responses": notify_responses.clone()
                }
            },
            "/subscribers/{impi}/ppr": {
                "parameters": [impi_param],
                "post": {
                    "summary": "Push the current profile (PPR with User-Data) to the assigned S-CSCF(s)",
                    "responses": notify_responses
                }
            },
            "/assignments": {
                "get": {
                    "summary": "Registration state and S-CSCF per public identity",
                    "responses": { "200": { "description": "Stored registration records",
                        "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Assignment" } } } } } }
                }
            },
            "/openapi.json": {
                "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI 3 document" } } }
            }
        },
        "components": { "schemas": schemas() }
    })
}

fn schemas() -> Value {
    let hex = |bytes: usize| json!({ "type": "string", "pattern": format!("^[0-9a-fA-F]{{{}}}$", bytes * 2) });
    json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "string" }, "field": { "type": "string" } }
        },
        "Subscriber": {
            "type": "object", "additionalProperties": false,
            "required": ["impi", "k", "service_profiles"],
            "properties": {
                "impi": { "type": "string" },
                "k": hex(16), "op": hex(16), "opc": hex(16), "amf": hex(2),
                "sqn": { "type": "integer", "minimum": 0, "maximum": 281474976710655_u64 },
                "auth_schemes": { "type": "array", "items": { "type": "string",
                    "enum": ["Digest-AKAv1-MD5", "Digest-AKAv2-MD5", "SIP Digest", "Digest-MD5"] } },
                "password": { "type": "string" },
                "digest_realm": { "type": "string" },
                "allowed_visited_networks": { "type": "array", "items": { "type": "string" } },
                "service_profiles": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/ServiceProfile" } }
            }
        },
        "ServiceProfile": {
            "type": "object", "additionalProperties": false, "required": ["public_identities"],
            "properties": {
                "public_identities": { "type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": false, "required": ["identity"],
                    "properties": { "identity": { "type": "string" }, "barred": { "type": "boolean" } } } },
                "initial_filter_criteria": { "type": "array", "items": { "$ref": "#/components/schemas/InitialFilterCriteria" } }
            }
        },
        "InitialFilterCriteria": {
            "type": "object", "additionalProperties": false, "required": ["priority", "application_server"],
            "properties": {
                "priority": { "type": "integer" },
                "profile_part_indicator": { "type": "integer", "enum": [0, 1] },
                "trigger_point": {
                    "type": "object", "required": ["condition_type_cnf", "spt"],
                    "properties": {
                        "condition_type_cnf": { "type": "boolean" },
                        "spt": { "type": "array", "items": { "$ref": "#/components/schemas/ServicePointTrigger" } }
                    }
                },
                "application_server": {
                    "type": "object", "required": ["server_name"],
                    "properties": {
                        "server_name": { "type": "string" },
                        "default_handling": { "type": "string", "enum": ["SESSION_CONTINUED", "SESSION_TERMINATED"] },
                        "service_info": { "type": "string" }
                    }
                }
            }
        },
        "ServicePointTrigger": {
            "type": "object", "additionalProperties": false,
            "description": "Exactly one of request_uri, method, sip_header, session_case, session_description",
            "properties": {
                "condition_negated": { "type": "boolean" },
                "group": { "type": "array", "items": { "type": "integer" } },
                "request_uri": { "type": "string" },
                "method": { "type": "string" },
                "sip_header": { "$ref": "#/components/schemas/HeaderCondition" },
                "session_case": { "type": "string", "enum": ["ORIGINATING", "TERMINATING_REGISTERED", "TERMINATING_UNREGISTERED", "ORIGINATING_UNREGISTERED", "ORIGINATING_CDIV"] },
                "session_description": { "$ref": "#/components/schemas/HeaderCondition" }
            }
        },
        "HeaderCondition": {
            "type": "object", "required": ["name"],
            "properties": { "name": { "type": "string" }, "content": { "type": "string" } }
        },
        "Assignment": {
            "type": "object",
            "properties": {
                "impu": { "type": "string" }, "impi": { "type": "string" },
                "state": { "type": "string", "enum": ["NOT_REGISTERED", "REGISTERED", "UNREGISTERED"] },
                "scscf_name": { "type": "string", "nullable": true }
            }
        },
        "RtrRequest": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "reason_code": { "type": "integer", "enum": [0, 1, 2, 3],
                    "description": "Deregistration-Reason/Reason-Code (TS 29.229 §6.3.17)" },
                "reason_info": { "type": "string" }
            }
        }
    })
}
