#!/usr/bin/env bash
# The seed use case ("Reusing the payment source") with curl, against `make serve`.
# Needs curl and jq; start the reference payment processor first: `.venv/bin/kassa fake-gateway`.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:8080}
GATEWAY=${GATEWAY:-http://127.0.0.1:9090/walkthrough}
CREDS=${CREDS:-var/credentials.json}
RUN=$(date +%s%N | tail -c 7)

api() {  # api METHOD PATH [BODY] — uses $AUTH as the bearer token
  curl -s -g -X "$1" "$BASE$2" -H "Authorization: Bearer $AUTH" \
    -H 'Accept: application/vnd.api+json' -H 'Content-Type: application/vnd.api+json' \
    ${3:+-d "$3"}
}
id() { jq -r .data.id; }

# 1. An integration token (admin) from the credentials `kassa init` printed.
AUTH=$(curl -s "$BASE/oauth/token" -H 'Content-Type: application/json' -d "{
  \"grant_type\": \"client_credentials\",
  \"client_id\": \"$(jq -r .integration_client_id "$CREDS")\",
  \"client_secret\": \"$(jq -r .integration_client_secret "$CREDS")\"}" | jq -r .access_token)

# 2. A market that sells one T-shirt through an external gateway.
PL=$(api POST /api/price_lists '{"data":{"type":"price_lists","attributes":{"name":"EUR","currency_code":"EUR"}}}' | id)
ADDR=$(api POST /api/addresses '{"data":{"type":"addresses","attributes":{"first_name":"Ada","last_name":"Shop","line_1":"Via Roma 1","city":"Milano","zip_code":"20100","country_code":"IT","phone":"+39021234567"}}}' | id)
MERCHANT=$(api POST /api/merchants "{\"data\":{\"type\":\"merchants\",\"attributes\":{\"name\":\"Shop\"},\"relationships\":{\"address\":{\"data\":{\"type\":\"addresses\",\"id\":\"$ADDR\"}}}}}" | id)
MODEL=$(api POST /api/inventory_models '{"data":{"type":"inventory_models","attributes":{"name":"Default"}}}' | id)
WH=$(api POST /api/stock_locations "{\"data\":{\"type\":\"stock_locations\",\"attributes\":{\"name\":\"Warehouse\"},\"relationships\":{\"address\":{\"data\":{\"type\":\"addresses\",\"id\":\"$ADDR\"}}}}}" | id)
api POST /api/inventory_stock_locations "{\"data\":{\"type\":\"inventory_stock_locations\",\"attributes\":{\"priority\":1},\"relationships\":{\"stock_location\":{\"data\":{\"type\":\"stock_locations\",\"id\":\"$WH\"}},\"inventory_model\":{\"data\":{\"type\":\"inventory_models\",\"id\":\"$MODEL\"}}}}}" > /dev/null
MARKET_CODE="europe-$RUN"
MARKET=$(api POST /api/markets "{\"data\":{\"type\":\"markets\",\"attributes\":{\"name\":\"Europe\",\"code\":\"$MARKET_CODE\"},\"relationships\":{\"merchant\":{\"data\":{\"type\":\"merchants\",\"id\":\"$MERCHANT\"}},\"price_list\":{\"data\":{\"type\":\"price_lists\",\"id\":\"$PL\"}},\"inventory_model\":{\"data\":{\"type\":\"inventory_models\",\"id\":\"$MODEL\"}}}}}" | id)
CAT=$(api POST /api/shipping_categories '{"data":{"type":"shipping_categories","attributes":{"name":"Default"}}}' | id)
SKU_CODE="TSHIRT-$RUN"
api POST /api/skus "{\"data\":{\"type\":\"skus\",\"attributes\":{\"code\":\"$SKU_CODE\",\"name\":\"T-Shirt\",\"do_not_ship\":true},\"relationships\":{\"shipping_category\":{\"data\":{\"type\":\"shipping_categories\",\"id\":\"$CAT\"}}}}}" > /dev/null
api POST /api/prices "{\"data\":{\"type\":\"prices\",\"attributes\":{\"amount_cents\":4900,\"sku_code\":\"$SKU_CODE\"},\"relationships\":{\"price_list\":{\"data\":{\"type\":\"price_lists\",\"id\":\"$PL\"}}}}}" > /dev/null
api POST /api/stock_items "{\"data\":{\"type\":\"stock_items\",\"attributes\":{\"quantity\":100,\"sku_code\":\"$SKU_CODE\"},\"relationships\":{\"stock_location\":{\"data\":{\"type\":\"stock_locations\",\"id\":\"$WH\"}}}}}" > /dev/null
GW=$(api POST /api/external_gateways "{\"data\":{\"type\":\"external_gateways\",\"attributes\":{\"name\":\"My gateway\",\"authorize_url\":\"$GATEWAY/authorize\",\"capture_url\":\"$GATEWAY/capture\",\"void_url\":\"$GATEWAY/void\",\"refund_url\":\"$GATEWAY/refund\",\"token_url\":\"$GATEWAY/token\"}}}" | id)
METHOD=$(api POST /api/payment_methods "{\"data\":{\"type\":\"payment_methods\",\"attributes\":{\"payment_source_type\":\"external_payments\",\"price_amount_cents\":0},\"relationships\":{\"market\":{\"data\":{\"type\":\"markets\",\"id\":\"$MARKET\"}},\"payment_gateway\":{\"data\":{\"type\":\"external_gateways\",\"id\":\"$GW\"}}}}}" | id)
EMAIL="john-$RUN@example.com"
api POST /api/customers "{\"data\":{\"type\":\"customers\",\"attributes\":{\"email\":\"$EMAIL\",\"password\":\"secret\"}}}" > /dev/null

# 3. The customer logs in (password grant, scoped to the market) and buys once.
AUTH=$(curl -s "$BASE/oauth/token" -H 'Content-Type: application/json' -d "{
  \"grant_type\": \"password\", \"client_id\": \"$(jq -r .sales_channel_client_id "$CREDS")\",
  \"username\": \"$EMAIL\", \"password\": \"secret\", \"scope\": \"market:code:$MARKET_CODE\"}" | jq -r .access_token)
checkout() {  # a cart with one T-shirt, a billing address and the payment method
  local order bill
  order=$(api POST /api/orders '{"data":{"type":"orders"}}' | id)
  api POST /api/line_items "{\"data\":{\"type\":\"line_items\",\"attributes\":{\"sku_code\":\"$SKU_CODE\",\"quantity\":1},\"relationships\":{\"order\":{\"data\":{\"type\":\"orders\",\"id\":\"$order\"}}}}}" > /dev/null
  bill=$(api POST /api/addresses '{"data":{"type":"addresses","attributes":{"first_name":"John","last_name":"Smith","line_1":"Via Roma 2","city":"Milano","zip_code":"20100","country_code":"IT","phone":"+39021234567"}}}' | id)
  api PATCH "/api/orders/$order" "{\"data\":{\"type\":\"orders\",\"id\":\"$order\",\"attributes\":{\"_shipping_address_same_as_billing\":true},\"relationships\":{\"billing_address\":{\"data\":{\"type\":\"addresses\",\"id\":\"$bill\"}},\"payment_method\":{\"data\":{\"type\":\"payment_methods\",\"id\":\"$METHOD\"}}}}}" > /dev/null
  echo "$order"
}
ORDER=$(checkout)
api POST /api/external_payments "{\"data\":{\"type\":\"external_payments\",\"attributes\":{\"payment_source_token\":\"tok_abc\"},\"relationships\":{\"order\":{\"data\":{\"type\":\"orders\",\"id\":\"$ORDER\"}}}}}" > /dev/null
api PATCH "/api/orders/$ORDER" "{\"data\":{\"type\":\"orders\",\"id\":\"$ORDER\",\"attributes\":{\"_place\":true}}}" \
  | jq -c '.data.attributes | {status, payment_status}'

# 4. Seed step 1: save the payment source into the customer wallet.
ENTRY=$(api PATCH "/api/orders/$ORDER?include=available_customer_payment_sources" "{
  \"data\": {\"type\": \"orders\", \"id\": \"$ORDER\",
             \"attributes\": {\"_save_payment_source_to_customer_wallet\": true}}}" \
  | tee /dev/stderr | jq -r '.data.relationships.available_customer_payment_sources.data[0].id')

# 5. Seed step 2: reuse it on the next order, then place that order.
NEXT=$(checkout)
api PATCH "/api/orders/$NEXT" "{
  \"data\": {\"type\": \"orders\", \"id\": \"$NEXT\",
             \"attributes\": {\"_customer_payment_source_id\": \"$ENTRY\"}}}" > /dev/null
api PATCH "/api/orders/$NEXT" "{\"data\":{\"type\":\"orders\",\"id\":\"$NEXT\",\"attributes\":{\"_place\":true}}}" \
  | jq -c '.data.attributes | {status, payment_status}'
