#!/usr/bin/env bash
# The seed use case ("Reusing the payment source") with curl and jq, against `make serve`.
#
# Run it from any directory, with the server and the reference payment processor running:
#
#   make serve                               # terminal 1 (serves on KASSA_PORT, default 8080)
#   .venv/bin/kassa fake-gateway             # terminal 2 (the processor, on port 9090)
#   bash docs/walkthrough.sh                 # terminal 3
#
# Variables (all optional):
#   BASE     the Kassa server            default http://127.0.0.1:$KASSA_PORT (KASSA_PORT=8080)
#   GATEWAY  the gateway URL: <processor>/<any account name>
#                                        default http://127.0.0.1:9090/walkthrough
#   CREDS    the credentials file `kassa init` wrote
#                                        default $KASSA_DATA_DIR/credentials.json, where a
#                                        relative KASSA_DATA_DIR (default var) is taken from
#                                        the repository root, as `make serve` does
#
# Every step prints its label; the first answer with an unexpected HTTP status stops the run
# with the request and the response, and a non-zero exit status. Needs curl and jq.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=${BASE:-http://127.0.0.1:${KASSA_PORT:-8080}}
BASE=${BASE%/}
GATEWAY=${GATEWAY:-http://127.0.0.1:9090/walkthrough}
GATEWAY=${GATEWAY%/}
DATA_DIR=${KASSA_DATA_DIR:-var}
[[ $DATA_DIR == /* ]] || DATA_DIR="$ROOT/$DATA_DIR"
CREDS=${CREDS:-$DATA_DIR/credentials.json}
RUN=$(date +%s%N | tail -c 7)

STEP=""
RESPONSE=""
fail() {  # fail MESSAGE... — print to stderr and stop
  printf 'walkthrough: FAILED%s\n' "${STEP:+ at step \"$STEP\"}" >&2
  printf '  %s\n' "$@" >&2
  exit 1
}
step() { STEP=$1; printf '==> %s\n' "$1"; }

# --- prerequisites ------------------------------------------------------------------------
step "0. Prerequisites"
for tool in curl jq; do
  command -v "$tool" > /dev/null || fail "$tool is not installed (Debian: apt-get install $tool)."
done
if ! curl -s -o /dev/null --max-time 5 "$BASE/health"; then
  fail "the Kassa server at $BASE is not reachable." \
    "Start it with \`make serve\` (in $ROOT), or set BASE=http://host:port to the one you run."
fi
PROCESSOR=$(sed -E 's#^([a-z]+://[^/]+).*#\1#' <<< "$GATEWAY")
if ! curl -s -o /dev/null --max-time 5 "$PROCESSOR/"; then
  port=$(sed -nE 's#^[a-z]+://[^/]*:([0-9]+)$#\1#p' <<< "$PROCESSOR")
  fail "the payment processor at $PROCESSOR (from GATEWAY=$GATEWAY) is not reachable." \
    "Start the reference processor in another terminal: $ROOT/.venv/bin/kassa fake-gateway${port:+ --port $port}" \
    "or set GATEWAY=http://host:port/<account> to the one you run."
fi
if [[ ! -r $CREDS ]]; then
  fail "the credentials file $CREDS does not exist." \
    "\`make serve\` (or \`kassa init\`) writes it; set CREDS=/path/to/credentials.json (or KASSA_DATA_DIR) otherwise."
fi
cred() {  # cred NAME — one value from the credentials file
  local value
  value=$(jq -r --arg k "$1" '.[$k] // empty' "$CREDS") || fail "$CREDS is not JSON."
  [[ -n $value ]] || fail "$CREDS has no \"$1\": run \`kassa init\` again."
  printf '%s' "$value"
}
INTEGRATION_ID=$(cred integration_client_id)
INTEGRATION_SECRET=$(cred integration_client_secret)
SALES_CHANNEL_ID=$(cred sales_channel_client_id)
echo "    server $BASE, processor $PROCESSOR, credentials $CREDS"

# --- helpers ------------------------------------------------------------------------------
redact() {  # one line, without secrets and passwords
  tr -s ' \n' ' ' | sed -E 's/("(client_secret|password)": *")[^"]*"/\1…"/g'
}
send() {  # send EXPECTED_STATUS METHOD URL [BODY] [AUTH] — sets RESPONSE, stops on another status
  local expected=$1 method=$2 url=$3 body=${4:-} auth=${5:-} out status
  local -a args=(-s -g -X "$method" "$url" -o - -w '\n%{http_code}' --max-time 60)
  if [[ $url == "$BASE/oauth/"* ]]; then
    args+=(-H 'Content-Type: application/json')
  else
    args+=(-H 'Accept: application/vnd.api+json' -H 'Content-Type: application/vnd.api+json')
  fi
  [[ -n $auth ]] && args+=(-H "Authorization: Bearer $auth")
  [[ -n $body ]] && args+=(-d "$body")
  out=$(curl "${args[@]}") || fail "no answer from $method $url (curl exit $?)."
  status=${out##*$'\n'}
  RESPONSE=${out%$'\n'*}
  if [[ $status != "$expected" ]]; then
    fail "expected HTTP $expected, got HTTP $status" \
      "request:  $method $url${auth:+ (Authorization: Bearer …)}" \
      ${body:+"body:     $(redact <<< "$body")"} \
      "response: ${RESPONSE:-<empty body>}"
  fi
}
api() { send "$1" "$2" "$BASE$3" "${4:-}" "$AUTH"; }  # api EXPECTED METHOD PATH [BODY]
field() {  # field JQ_PATH — a value of the last response, which must be there
  local value
  value=$(jq -r "$1 // empty" <<< "$RESPONSE")
  [[ -n $value ]] || fail "the answer has no $1" "response: $RESPONSE"
  printf '%s' "$value"
}
check_placed() {  # the last response is an order that is placed and authorized
  local got
  got=$(jq -c '.data.attributes | {status, payment_status}' <<< "$RESPONSE")
  echo "$got"
  if [[ $got != '{"status":"placed","payment_status":"authorized"}' ]]; then
    fail "the order is $got, not placed and authorized." \
      "Is the processor at $PROCESSOR the reference one (kassa fake-gateway)?" \
      "response: $RESPONSE"
  fi
}

# --- the story ----------------------------------------------------------------------------
step "1. An integration token (admin) from the credentials \`kassa init\` saved"
send 200 POST "$BASE/oauth/token" "{\"grant_type\": \"client_credentials\",
  \"client_id\": \"$INTEGRATION_ID\", \"client_secret\": \"$INTEGRATION_SECRET\"}"
AUTH=$(field .access_token)

step "2. A market that sells one T-shirt through an external gateway"
api 201 POST /api/price_lists '{"data":{"type":"price_lists","attributes":{"name":"EUR","currency_code":"EUR"}}}'
PL=$(field .data.id)
api 201 POST /api/addresses '{"data":{"type":"addresses","attributes":{"first_name":"Ada","last_name":"Shop","line_1":"Via Roma 1","city":"Milano","zip_code":"20100","country_code":"IT","phone":"+39021234567"}}}'
ADDR=$(field .data.id)
api 201 POST /api/merchants "{\"data\":{\"type\":\"merchants\",\"attributes\":{\"name\":\"Shop\"},\"relationships\":{\"address\":{\"data\":{\"type\":\"addresses\",\"id\":\"$ADDR\"}}}}}"
MERCHANT=$(field .data.id)
api 201 POST /api/inventory_models '{"data":{"type":"inventory_models","attributes":{"name":"Default"}}}'
MODEL=$(field .data.id)
api 201 POST /api/stock_locations "{\"data\":{\"type\":\"stock_locations\",\"attributes\":{\"name\":\"Warehouse\"},\"relationships\":{\"address\":{\"data\":{\"type\":\"addresses\",\"id\":\"$ADDR\"}}}}}"
WH=$(field .data.id)
api 201 POST /api/inventory_stock_locations "{\"data\":{\"type\":\"inventory_stock_locations\",\"attributes\":{\"priority\":1},\"relationships\":{\"stock_location\":{\"data\":{\"type\":\"stock_locations\",\"id\":\"$WH\"}},\"inventory_model\":{\"data\":{\"type\":\"inventory_models\",\"id\":\"$MODEL\"}}}}}"
MARKET_CODE="europe-$RUN"
api 201 POST /api/markets "{\"data\":{\"type\":\"markets\",\"attributes\":{\"name\":\"Europe\",\"code\":\"$MARKET_CODE\"},\"relationships\":{\"merchant\":{\"data\":{\"type\":\"merchants\",\"id\":\"$MERCHANT\"}},\"price_list\":{\"data\":{\"type\":\"price_lists\",\"id\":\"$PL\"}},\"inventory_model\":{\"data\":{\"type\":\"inventory_models\",\"id\":\"$MODEL\"}}}}}"
MARKET=$(field .data.id)
api 201 POST /api/shipping_categories '{"data":{"type":"shipping_categories","attributes":{"name":"Default"}}}'
CAT=$(field .data.id)
SKU_CODE="TSHIRT-$RUN"
api 201 POST /api/skus "{\"data\":{\"type\":\"skus\",\"attributes\":{\"code\":\"$SKU_CODE\",\"name\":\"T-Shirt\",\"do_not_ship\":true},\"relationships\":{\"shipping_category\":{\"data\":{\"type\":\"shipping_categories\",\"id\":\"$CAT\"}}}}}"
api 201 POST /api/prices "{\"data\":{\"type\":\"prices\",\"attributes\":{\"amount_cents\":4900,\"sku_code\":\"$SKU_CODE\"},\"relationships\":{\"price_list\":{\"data\":{\"type\":\"price_lists\",\"id\":\"$PL\"}}}}}"
api 201 POST /api/stock_items "{\"data\":{\"type\":\"stock_items\",\"attributes\":{\"quantity\":100,\"sku_code\":\"$SKU_CODE\"},\"relationships\":{\"stock_location\":{\"data\":{\"type\":\"stock_locations\",\"id\":\"$WH\"}}}}}"
api 201 POST /api/external_gateways "{\"data\":{\"type\":\"external_gateways\",\"attributes\":{\"name\":\"My gateway\",\"authorize_url\":\"$GATEWAY/authorize\",\"capture_url\":\"$GATEWAY/capture\",\"void_url\":\"$GATEWAY/void\",\"refund_url\":\"$GATEWAY/refund\",\"token_url\":\"$GATEWAY/token\"}}}"
GW=$(field .data.id)
api 201 POST /api/payment_methods "{\"data\":{\"type\":\"payment_methods\",\"attributes\":{\"payment_source_type\":\"external_payments\",\"price_amount_cents\":0},\"relationships\":{\"market\":{\"data\":{\"type\":\"markets\",\"id\":\"$MARKET\"}},\"payment_gateway\":{\"data\":{\"type\":\"external_gateways\",\"id\":\"$GW\"}}}}}"
METHOD=$(field .data.id)
EMAIL="john-$RUN@example.com"
PASSWORD="secret-$RUN"
api 201 POST /api/customers "{\"data\":{\"type\":\"customers\",\"attributes\":{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}}}"
echo "    market $MARKET_CODE, sku $SKU_CODE, customer $EMAIL"

step "3. The customer logs in (password grant, scoped to the market) and buys once"
send 200 POST "$BASE/oauth/token" "{\"grant_type\": \"password\",
  \"client_id\": \"$SALES_CHANNEL_ID\", \"username\": \"$EMAIL\",
  \"password\": \"$PASSWORD\", \"scope\": \"market:code:$MARKET_CODE\"}"
AUTH=$(field .access_token)
checkout() {  # a cart with one T-shirt, a billing address and the payment method: sets ORDER_ID
  local bill
  api 201 POST /api/orders '{"data":{"type":"orders"}}'
  ORDER_ID=$(field .data.id)
  api 201 POST /api/line_items "{\"data\":{\"type\":\"line_items\",\"attributes\":{\"sku_code\":\"$SKU_CODE\",\"quantity\":1},\"relationships\":{\"order\":{\"data\":{\"type\":\"orders\",\"id\":\"$ORDER_ID\"}}}}}"
  api 201 POST /api/addresses '{"data":{"type":"addresses","attributes":{"first_name":"John","last_name":"Smith","line_1":"Via Roma 2","city":"Milano","zip_code":"20100","country_code":"IT","phone":"+39021234567"}}}'
  bill=$(field .data.id)
  api 200 PATCH "/api/orders/$ORDER_ID" "{\"data\":{\"type\":\"orders\",\"id\":\"$ORDER_ID\",\"attributes\":{\"_shipping_address_same_as_billing\":true},\"relationships\":{\"billing_address\":{\"data\":{\"type\":\"addresses\",\"id\":\"$bill\"}},\"payment_method\":{\"data\":{\"type\":\"payment_methods\",\"id\":\"$METHOD\"}}}}}"
}
checkout
ORDER=$ORDER_ID
api 201 POST /api/external_payments "{\"data\":{\"type\":\"external_payments\",\"attributes\":{\"payment_source_token\":\"tok_abc\"},\"relationships\":{\"order\":{\"data\":{\"type\":\"orders\",\"id\":\"$ORDER\"}}}}}"
api 200 PATCH "/api/orders/$ORDER" "{\"data\":{\"type\":\"orders\",\"id\":\"$ORDER\",\"attributes\":{\"_place\":true}}}"
check_placed

step "4. Seed step 1: save the payment source into the customer wallet"
api 200 PATCH "/api/orders/$ORDER?include=available_customer_payment_sources" "{
  \"data\": {\"type\": \"orders\", \"id\": \"$ORDER\",
             \"attributes\": {\"_save_payment_source_to_customer_wallet\": true}}}"
echo "$RESPONSE" >&2
ENTRY=$(field '.data.relationships.available_customer_payment_sources.data[0].id')
echo "    wallet entry $ENTRY"

step "5. Seed step 2: reuse it on the next order, then place that order"
checkout
NEXT=$ORDER_ID
api 200 PATCH "/api/orders/$NEXT" "{
  \"data\": {\"type\": \"orders\", \"id\": \"$NEXT\",
             \"attributes\": {\"_customer_payment_source_id\": \"$ENTRY\"}}}"
api 200 PATCH "/api/orders/$NEXT" "{\"data\":{\"type\":\"orders\",\"id\":\"$NEXT\",\"attributes\":{\"_place\":true}}}"
check_placed
echo "==> done: order $NEXT was paid with wallet entry $ENTRY"
