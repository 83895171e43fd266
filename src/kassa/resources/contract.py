"""Field and relationship tables of the Commerce Layer core API resources Kassa serves.

Names and flags follow the public Commerce Layer resource schema; the format is explained in
:mod:`kassa.resources.wire`. Resources Kassa adds beyond that schema are declared at the end.
"""

from kassa.resources.wire import wire

ORDERS = wire(
    "orders",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    number                                          string   curfsP
    affiliate_code                                  string   curfs
    autorefresh                                     boolean  cur
    place_async                                     boolean  curfs
    status                                          string   rfs enum=draft|pending|editing|placing|placed|approved|cancelled
    payment_status                                  string   rfs enum=unpaid|authorized|partially_authorized|paid|partially_paid|voided|partially_voided|refunded|partially_refunded|free
    fulfillment_status                              string   rfs enum=unfulfilled|in_progress|fulfilled|not_required
    guest                                           boolean  curfs
    editable                                        boolean  r
    customer_email                                  string   curf
    customer_password                               string   cu
    customer_type                                   string   r enum=new|returning
    language_code                                   string   curfs
    currency_code                                   string   rfs
    tax_included                                    boolean  rfs
    tax_rate                                        float    rfs
    freight_taxable                                 boolean  cur
    payment_method_taxable                          boolean  cur
    adjustment_taxable                              boolean  cur
    gift_card_taxable                               boolean  cur
    requires_billing_info                           boolean  r
    country_code                                    string   rfs
    shipping_country_code_lock                      string   cur
    coupon_code                                     string   curfs
    gift_card_code                                  string   curfs
    gift_card_or_coupon_code                        string   curD
    subtotal_amount_cents                           integer  rfs
    subtotal_amount_float                           float    r
    formatted_subtotal_amount                       string   r
    shipping_amount_cents                           integer  rfs
    shipping_amount_float                           float    r
    formatted_shipping_amount                       string   r
    payment_method_amount_cents                     integer  rfs
    payment_method_amount_float                     float    r
    formatted_payment_method_amount                 string   r
    discount_amount_cents                           integer  rfs
    discount_amount_float                           float    r
    formatted_discount_amount                       string   r
    adjustment_amount_cents                         integer  rfs
    adjustment_amount_float                         float    r
    formatted_adjustment_amount                     string   r
    gift_card_amount_cents                          integer  rfs
    gift_card_amount_float                          float    r
    formatted_gift_card_amount                      string   r
    total_tax_amount_cents                          integer  rfs
    total_tax_amount_float                          float    r
    formatted_total_tax_amount                      string   r
    subtotal_tax_amount_cents                       integer  rfs
    subtotal_tax_amount_float                       float    r
    formatted_subtotal_tax_amount                   string   r
    shipping_tax_amount_cents                       integer  r
    shipping_tax_amount_float                       float    r
    formatted_shipping_tax_amount                   string   r
    payment_method_tax_amount_cents                 integer  r
    payment_method_tax_amount_float                 float    r
    formatted_payment_method_tax_amount             string   r
    adjustment_tax_amount_cents                     integer  r
    adjustment_tax_amount_float                     float    r
    formatted_adjustment_tax_amount                 string   r
    total_amount_cents                              integer  rfs
    total_amount_float                              float    r
    formatted_total_amount                          string   r
    total_taxable_amount_cents                      integer  r
    total_taxable_amount_float                      float    r
    formatted_total_taxable_amount                  string   r
    subtotal_taxable_amount_cents                   integer  r
    subtotal_taxable_amount_float                   float    r
    formatted_subtotal_taxable_amount               string   r
    shipping_taxable_amount_cents                   integer  r
    shipping_taxable_amount_float                   float    r
    formatted_shipping_taxable_amount               string   r
    payment_method_taxable_amount_cents             integer  r
    payment_method_taxable_amount_float             float    r
    formatted_payment_method_taxable_amount         string   r
    adjustment_taxable_amount_cents                 integer  r
    adjustment_taxable_amount_float                 float    r
    formatted_adjustment_taxable_amount             string   r
    total_amount_with_taxes_cents                   integer  r
    total_amount_with_taxes_float                   float    r
    formatted_total_amount_with_taxes               string   r
    fees_amount_cents                               integer  rfs
    fees_amount_float                               float    r
    formatted_fees_amount                           string   r
    duty_amount_cents                               integer  rfs
    duty_amount_float                               float    r
    formatted_duty_amount                           string   r
    place_total_amount_cents                        integer  r
    place_total_amount_float                        float    r
    formatted_place_total_amount                    string   r
    skus_count                                      integer  r
    line_item_options_count                         integer  r
    shipments_count                                 integer  r
    tax_calculations_count                          integer  r
    validations_count                               integer  r
    errors_count                                    integer  r
    payment_source_details                          object   rf
    token                                           string   rf
    cart_url                                        string   cur
    return_url                                      string   cur
    terms_url                                       string   cur
    privacy_url                                     string   cur
    checkout_url                                    string   r
    _archive                                        boolean  uT
    _unarchive                                      boolean  uT
    _pending                                        boolean  uTP
    _place                                          boolean  uTI
    _cancel                                         boolean  uT
    _approve                                        boolean  uTP
    _approve_and_capture                            boolean  uTP
    _authorize                                      boolean  uTI
    _authorization_amount_cents                     integer  uI
    _capture                                        boolean  uTP
    _refund                                         boolean  uTP
    _fulfill                                        boolean  uTP
    _update_taxes                                   boolean  uT
    _nullify_payment_source                         boolean  uT
    _fix_payment_source                             boolean  uTP
    _billing_address_clone_id                       string   u
    _shipping_address_clone_id                      string   u
    _customer_payment_source_id                     string   u
    _shipping_address_same_as_billing               boolean  uT
    _billing_address_same_as_shipping               boolean  uT
    _commit_invoice                                 boolean  uT
    _refund_invoice                                 boolean  uT
    _save_payment_source_to_customer_wallet         boolean  uT
    _save_shipping_address_to_customer_address_book boolean  uT
    _save_billing_address_to_customer_address_book  boolean  uT
    _refresh                                        boolean  uT
    _refresh_prices                                 boolean  uTP
    _validate                                       boolean  uT
    _create_subscriptions                           boolean  uT
    _start_editing                                  boolean  uTP
    _stop_editing                                   boolean  uTP
    placed_at                                       datetime rfs
    approved_at                                     datetime rfs
    cancelled_at                                    datetime rfs
    payment_updated_at                              datetime rfs
    fulfillment_updated_at                          datetime rfs
    refreshed_at                                    datetime rfs
    archived_at                                     datetime rfs
    subscription_created_at                         datetime rfs
    expires_at                                      datetime curfsP
    expiration_info                                 object   curP
    id                                              string   rfsR
    circuit_state                                   string   rfs
    circuit_failure_count                           integer  rfs
    _reset_circuit                                  boolean  uTP
    _add_tags                                       string   uP
    _remove_tags                                    string   uP
    created_at                                      datetime rfsR
    updated_at                                      datetime rfsR
    reference                                       string   curfs
    reference_origin                                string   curfs
    metadata                                        object   curf
    """,
    relationships="""
    market                             one  markets cuS
    customer                           one  customers cu
    shipping_address                   one  addresses cu
    billing_address                    one  addresses cu
    store                              one  stores cu
    default_shipping_method            one  shipping_methods V
    default_payment_method             one  payment_methods V
    available_payment_methods          many payment_methods V
    available_customer_payment_sources many customer_payment_sources V
    available_free_skus                many skus V
    available_free_bundles             many bundles V
    payment_method                     one  payment_methods cu
    payment_source                     one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers cu
    discount_engine_item               one  discount_engine_items -
    line_items                         many line_items -
    line_item_options                  many line_item_options -
    stock_reservations                 many stock_reservations -
    stock_line_items                   many stock_line_items -
    stock_transfers                    many stock_transfers -
    shipments                          many shipments -
    payment_options                    many payment_options -
    transactions                       many authorizations|voids|captures|refunds -
    authorizations                     many authorizations -
    captures                           many captures -
    voids                              many voids -
    refunds                            many refunds -
    returns                            many returns -
    order_subscription                 one  order_subscriptions -
    order_subscriptions                many order_subscriptions -
    order_factories                    many order_factories -
    order_copies                       many order_copies -
    recurring_order_copies             many recurring_order_copies -
    attachments                        many attachments -
    notifications                      many notifications -
    links                              many links -
    resource_errors                    many resource_errors -
    events                             many events -
    tags                               many tags cuP
    versions                           many versions -
    event_stores                       many event_stores V
    """,
)


LINE_ITEMS = wire(
    "line_items",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    sku_code                    string   curf
    bundle_code                 string   cur
    quantity                    integer  curfR
    _external_price             boolean  cur
    _update_quantity            boolean  c
    _reserve_stock              boolean  cuP
    _reset_restocked_quantity   boolean  cuP
    currency_code               string   rfs
    unit_amount_cents           integer  curfsPR
    unit_amount_float           float    r
    formatted_unit_amount       string   r
    compare_at_amount_cents     integer  curfs
    compare_at_amount_float     float    r
    formatted_compare_at_amount string   r
    options_amount_cents        integer  urfsP
    options_amount_float        float    r
    formatted_options_amount    string   r
    discount_cents              integer  rfs
    discount_float              float    r
    formatted_discount          string   r
    total_amount_cents          integer  rfs
    total_amount_float          float    rR
    formatted_total_amount      string   r
    tax_amount_cents            integer  rfs
    tax_amount_float            float    rR
    formatted_tax_amount        string   r
    name                        string   curfs
    image_url                   string   curf
    discount_breakdown          object   r
    tax_rate                    float    r
    tax_breakdown               object   r
    item_type                   string   crfs enum=skus|bundles|gift_cards|shipments|payment_methods|adjustments|discount_engine_items|percentage_discount_promotions|free_shipping_promotions|buy_x_pay_y_promotions|free_gift_promotions|fixed_price_promotions|external_promotions|fixed_amount_promotions|flex_promotions
    frequency                   string   cur
    coupon_code                 string   r
    rule_outcomes               object   r
    id                          string   rfsR
    circuit_state               string   rfs
    circuit_failure_count       integer  rfs
    _reset_circuit              boolean  uTP
    _add_tags                   string   uP
    _remove_tags                string   uP
    created_at                  datetime rfsR
    updated_at                  datetime rfsR
    reference                   string   curfs
    reference_origin            string   curfs
    metadata                    object   curf
    """,
    relationships="""
    order               one  orders cR
    item                one  skus|bundles|gift_cards|shipments|payment_methods|adjustments|discount_engine_items|percentage_discount_promotions|free_shipping_promotions|buy_x_pay_y_promotions|free_gift_promotions|fixed_price_promotions|external_promotions|fixed_amount_promotions|flex_promotions c
    sku                 one  skus -
    bundle              one  bundles -
    adjustment          one  adjustments -
    gift_card           one  gift_cards -
    shipment            one  shipments -
    payment_method      one  payment_methods -
    line_item_options   many line_item_options -
    return_line_items   many return_line_items -
    shipment_line_items many shipment_line_items D
    stock_reservations  many stock_reservations -
    stock_line_items    many stock_line_items -
    stock_transfers     many stock_transfers -
    notifications       many notifications -
    events              many events -
    tags                many tags cuP
    event_stores        many event_stores V
    """,
)


MARKETS = wire(
    "markets",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    number                        integer  r
    name                          string   curfsR
    code                          string   curfs
    facebook_pixel_id             string   cur
    checkout_url                  string   cur
    external_prices_url           string   cur
    external_order_validation_url string   cur
    private                       boolean  r
    shipping_cost_cutoff          integer  cur
    id                            string   rfsR
    _disable                      boolean  cuT
    _enable                       boolean  cuT
    disabled_at                   datetime rfs
    shared_secret                 string   rR
    _regenerate_shared_secret     boolean  uTD
    external_includes             array    cur
    created_at                    datetime rfsR
    updated_at                    datetime rfsR
    reference                     string   curfs
    reference_origin              string   curfs
    metadata                      object   curf
    """,
    relationships="""
    merchant                one  merchants cuR
    price_list              one  price_lists cuR
    base_price_list         one  price_lists V
    inventory_model         one  inventory_models cuR
    subscription_model      one  subscription_models cu
    discount_engine         one  discount_engines cu
    tax_calculator          one  avalara_accounts|stripe_tax_accounts|vertex_accounts|taxjar_accounts|manual_tax_calculators|external_tax_calculators cu
    customer_group          one  customer_groups cu
    geocoder                one  geocoders cu
    default_shipping_method one  shipping_methods cu
    default_payment_method  one  payment_methods cu
    stores                  many stores -
    price_list_schedulers   many price_list_schedulers -
    order_validation_rules  many order_validation_rules D
    attachments             many attachments -
    versions                many versions -
    event_stores            many event_stores V
    """,
)


CUSTOMERS = wire(
    "customers",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    email                  string   curfsR
    password               string   cu
    status                 string   rfs enum=prospect|acquired|repeat
    has_password           boolean  r
    total_orders_count     integer  rfs
    shopper_reference      string   curR
    profile_id             string   curR
    tax_exemption_code     string   cur
    id                     string   rfsR
    _add_tags              string   uP
    _remove_tags           string   uP
    created_at             datetime rfsR
    updated_at             datetime rfsR
    reference              string   curfs
    reference_origin       string   curfs
    jwt_custom_claim       object   r
    metadata               object   curf
    _request_anonymization boolean  uTP
    _cancel_anonymization  boolean  uTP
    anonymization_info     object   r
    anonymization_status   string   rfs
    """,
    relationships="""
    customer_group           one  customer_groups cu
    customer_addresses       many customer_addresses -
    customer_payment_sources many customer_payment_sources -
    customer_subscriptions   many customer_subscriptions -
    orders                   many orders -
    order_subscriptions      many order_subscriptions -
    returns                  many returns -
    sku_lists                many sku_lists -
    attachments              many attachments -
    events                   many events -
    tags                     many tags cuP
    jwt_customer             one  customers V
    jwt_markets              many markets V
    jwt_stock_locations      many stock_locations V
    event_stores             many event_stores V
    """,
)


CUSTOMER_ADDRESSES = wire(
    "customer_addresses",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name             string   r
    customer_email   string   crR
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    customer     one  customers cuR
    address      one  addresses cuR
    events       many events -
    versions     many versions -
    event_stores many event_stores V
    """,
)


CUSTOMER_GROUPS = wire(
    "customer_groups",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name             string   curfsR
    code             string   curfs
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    customers    many customers -
    markets      many markets -
    attachments  many attachments -
    versions     many versions -
    event_stores many event_stores V
    """,
)


CUSTOMER_PAYMENT_SOURCES = wire(
    "customer_payment_sources",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                 string   rf
    customer_token       string   cur
    payment_source_token string   curf
    id                   string   rfsR
    created_at           datetime rfsR
    updated_at           datetime rfsR
    reference            string   curfs
    reference_origin     string   curfs
    metadata             object   curf
    """,
    relationships="""
    customer       one  customers cuR
    payment_method one  payment_methods cu
    payment_source one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers cu
    versions       many versions -
    event_stores   many event_stores V
    """,
)


ADDRESSES = wire(
    "addresses",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    business         boolean  curf
    first_name       string   curfR
    last_name        string   curfR
    company          string   curfR
    full_name        string   r
    line_1           string   curfR
    line_2           string   curf
    city             string   curfsR
    zip_code         string   curfR
    state_code       string   curfs
    country_code     string   curfsR
    phone            string   curfR
    full_address     string   r
    name             string   r
    email            string   curf
    notes            string   curf
    lat              float    curf
    lng              float    curf
    is_localized     boolean  r
    is_geocoded      boolean  r
    provider_name    string   r
    map_url          string   r
    static_map_url   string   r
    billing_info     string   curf
    id               string   rfsR
    _add_tags        string   uP
    _remove_tags     string   uP
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    geocoder     one  geocoders cu
    events       many events -
    tags         many tags cuP
    versions     many versions -
    event_stores many event_stores V
    """,
)


SKUS = wire(
    "skus",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    code             string   curfsR
    name             string   curfsR
    description      string   curf
    image_url        string   curf
    pieces_per_pack  integer  cur
    weight           float    cur
    unit_of_weight   string   cur enum=gr|oz|lb
    hs_tariff_number string   cur
    do_not_ship      boolean  curfs
    do_not_track     boolean  curfs
    inventory        object   r
    id               string   rfsR
    _add_tags        string   uP
    _remove_tags     string   uP
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    jwt_custom_claim object   r
    metadata         object   curf
    """,
    relationships="""
    shipping_category   one  shipping_categories cuR
    prices              many prices -
    stock_items         many stock_items -
    stock_reservations  many stock_reservations -
    delivery_lead_times many delivery_lead_times -
    sku_options         many sku_options V
    sku_list_items      many sku_list_items -
    sku_lists           many sku_lists -
    attachments         many attachments -
    links               many links -
    events              many events -
    tags                many tags cuP
    versions            many versions -
    jwt_customer        one  customers V
    jwt_markets         many markets V
    jwt_stock_locations many stock_locations V
    event_stores        many event_stores V
    """,
)


PRICES = wire(
    "prices",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    currency_code               string   r
    sku_code                    string   cur
    amount_cents                integer  curfsR
    amount_float                float    r
    formatted_amount            string   r
    original_amount_cents       integer  r
    formatted_original_amount   string   r
    compare_at_amount_cents     integer  curfs
    compare_at_amount_float     float    r
    formatted_compare_at_amount string   r
    rule_outcomes               object   r
    id                          string   rfsR
    processed_at                datetime ur
    created_at                  datetime rfsR
    updated_at                  datetime rfsR
    reference                   string   curfs
    reference_origin            string   curfs
    rules                       object   curf
    resource_payload            object   r
    jwt_custom_claim            object   r
    metadata                    object   curf
    """,
    relationships="""
    price_list            one  price_lists cuR
    sku                   one  skus cuR
    price_tiers           many price_tiers cu
    price_volume_tiers    many price_volume_tiers V
    price_frequency_tiers many price_frequency_tiers V
    attachments           many attachments -
    versions              many versions -
    jwt_customer          one  customers V
    jwt_markets           many markets V
    jwt_stock_locations   many stock_locations V
    event_stores          many event_stores V
    """,
)


PRICE_LISTS = wire(
    "price_lists",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name             string   curfsR
    code             string   curfs
    currency_code    string   curfsR
    tax_included     boolean  curfs
    rule_outcomes    object   r
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    rules            object   curf
    resource_payload object   r
    metadata         object   curf
    """,
    relationships="""
    prices                many prices -
    price_list_schedulers many price_list_schedulers -
    attachments           many attachments -
    versions              many versions -
    event_stores          many event_stores V
    """,
)


STOCK_ITEMS = wire(
    "stock_items",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    sku_code         string   cur
    quantity         integer  curfsR
    _validate        boolean  uTP
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    stock_location     one  stock_locations cuR
    sku                one  skus cuS
    reserved_stock     one  reserved_stocks -
    stock_reservations many stock_reservations -
    attachments        many attachments -
    versions           many versions -
    event_stores       many event_stores V
    """,
)


STOCK_LOCATIONS = wire(
    "stock_locations",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    number           integer  r
    name             string   curfsR
    code             string   curfs
    label_format     string   curfs
    suppress_etd     boolean  curfs
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    address                    one  addresses cuR
    inventory_stock_locations  many inventory_stock_locations -
    inventory_return_locations many inventory_return_locations -
    stock_items                many stock_items -
    stock_transfers            many stock_transfers -
    stores                     many stores -
    attachments                many attachments -
    versions                   many versions -
    event_stores               many event_stores V
    """,
)


INVENTORY_MODELS = wire(
    "inventory_models",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                        string   curfsR
    strategy                    string   curfs
    stock_locations_cutoff      integer  curfs
    stock_reservation_cutoff    integer  curfs
    put_stock_transfers_on_hold boolean  cur
    manual_stock_decrement      boolean  cur
    id                          string   rfsR
    created_at                  datetime rfsR
    updated_at                  datetime rfsR
    reference                   string   curfs
    reference_origin            string   curfs
    metadata                    object   curf
    """,
    relationships="""
    inventory_stock_locations  many inventory_stock_locations -
    inventory_return_locations many inventory_return_locations -
    attachments                many attachments -
    versions                   many versions -
    event_stores               many event_stores V
    """,
)


PAYMENT_METHODS = wire(
    "payment_methods",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                              string   curfs
    payment_source_type               string   curfsR enum=adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers
    currency_code                     string   curfsR
    moto                              boolean  cur
    require_capture                   boolean  cur
    auto_place                        boolean  cur
    auto_capture                      boolean  cur
    price_amount_cents                integer  curfsR
    price_amount_float                float    r
    formatted_price_amount            string   r
    auto_capture_max_amount_cents     integer  cur
    auto_capture_max_amount_float     float    r
    formatted_auto_capture_max_amount string   r
    id                                string   rfsR
    _disable                          boolean  cuT
    _enable                           boolean  cuT
    disabled_at                       datetime rfs
    created_at                        datetime rfsR
    updated_at                        datetime rfsR
    reference                         string   curfs
    reference_origin                  string   curfs
    metadata                          object   curf
    """,
    relationships="""
    market          one  markets cu
    payment_gateway one  payment_gateways cuR
    store           one  stores cu
    attachments     many attachments -
    versions        many versions -
    event_stores    many event_stores V
    """,
)


PAYMENT_GATEWAYS = wire(
    "payment_gateways",
    actions="list retrieve",
    singleton=False,
    fields="""
    name             string   curfsR
    force_payments   boolean  cur
    id               string   rfsR
    _disable         boolean  cuT
    _enable          boolean  cuT
    disabled_at      datetime rfs
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    payment_methods many payment_methods -
    versions        many versions -
    event_stores    many event_stores V
    """,
)


EXTERNAL_GATEWAYS = wire(
    "external_gateways",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                      string   curfsR
    force_payments            boolean  cur
    id                        string   rfsR
    _disable                  boolean  cuT
    _enable                   boolean  cuT
    disabled_at               datetime rfs
    created_at                datetime rfsR
    updated_at                datetime rfsR
    reference                 string   curfs
    reference_origin          string   curfs
    metadata                  object   curf
    authorize_url             string   cur
    capture_url               string   cur
    void_url                  string   cur
    refund_url                string   cur
    token_url                 string   cur
    circuit_state             string   rfs
    circuit_failure_count     integer  rfs
    _reset_circuit            boolean  uTP
    shared_secret             string   rR
    _regenerate_shared_secret boolean  uTD
    external_includes         array    cur
    """,
    relationships="""
    payment_methods   many payment_methods -
    versions          many versions -
    event_stores      many event_stores V
    external_payments many external_payments -
    """,
)


EXTERNAL_PAYMENTS = wire(
    "external_payments",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    payment_source_token string   crfR
    options              object   cur
    id                   string   rfsR
    payment_instrument   object   r
    created_at           datetime rfsR
    updated_at           datetime rfsR
    reference            string   curfs
    reference_origin     string   curfs
    metadata             object   curf
    """,
    relationships="""
    order           one  orders cuR
    payment_gateway one  payment_gateways R
    wallet          one  customer_payment_sources V
    versions        many versions -
    event_stores    many event_stores V
    """,
)


MANUAL_GATEWAYS = wire(
    "manual_gateways",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name             string   curfsR
    force_payments   boolean  cur
    id               string   rfsR
    _disable         boolean  cuT
    _enable          boolean  cuT
    disabled_at      datetime rfs
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    payment_methods many payment_methods -
    versions        many versions -
    event_stores    many event_stores V
    """,
)


WIRE_TRANSFERS = wire(
    "wire_transfers",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    id                 string   rfsR
    payment_instrument object   r
    created_at         datetime rfsR
    updated_at         datetime rfsR
    reference          string   curfs
    reference_origin   string   curfs
    metadata           object   curf
    """,
    relationships="""
    order        one  orders cuR
    versions     many versions -
    event_stores many event_stores V
    """,
)


AUTHORIZATIONS = wire(
    "authorizations",
    actions="list retrieve update",
    singleton=False,
    fields="""
    number                    string   rfsR
    type                      string   rfsR enum=authorizations|voids|captures|refunds
    payment_method_type       string   r
    currency_code             string   rfR
    amount_cents              integer  rfsR
    amount_float              float    rR
    formatted_amount          string   rR
    succeeded                 boolean  urfR
    message                   string   rf
    error_code                string   rf
    error_detail              string   rf
    token                     string   rf
    gateway_transaction_id    string   rf
    _forward                  boolean  uT
    id                        string   rfsR
    created_at                datetime rfsR
    updated_at                datetime rfsR
    reference                 string   curfs
    reference_origin          string   curfs
    metadata                  object   curf
    cvv_code                  string   r
    cvv_message               string   r
    avs_code                  string   r
    avs_message               string   r
    fraud_review              string   r
    _capture                  boolean  uT
    _capture_amount_cents     integer  u
    capture_amount_cents      integer  r
    capture_amount_float      float    r
    formatted_capture_amount  string   r
    capture_balance_cents     integer  r
    capture_balance_float     float    r
    formatted_capture_balance string   r
    _void                     boolean  uT
    void_balance_cents        integer  r
    void_balance_float        float    r
    formatted_void_balance    string   r
    _cancel                   boolean  uT
    """,
    relationships="""
    order          one  orders R
    payment_source one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers -
    attachments    many attachments -
    events         many events -
    versions       many versions -
    event_stores   many event_stores V
    captures       many captures -
    voids          many voids -
    """,
)


CAPTURES = wire(
    "captures",
    actions="list retrieve update",
    singleton=False,
    fields="""
    number                   string   rfsR
    type                     string   rfsR enum=authorizations|voids|captures|refunds
    payment_method_type      string   r
    currency_code            string   rfR
    amount_cents             integer  rfsR
    amount_float             float    rR
    formatted_amount         string   rR
    succeeded                boolean  urfR
    message                  string   rf
    error_code               string   rf
    error_detail             string   rf
    token                    string   rf
    gateway_transaction_id   string   rf
    _forward                 boolean  uT
    id                       string   rfsR
    created_at               datetime rfsR
    updated_at               datetime rfsR
    reference                string   curfs
    reference_origin         string   curfs
    metadata                 object   curf
    _refund                  boolean  uT
    _refund_amount_cents     integer  u
    refund_amount_cents      integer  r
    refund_amount_float      float    r
    formatted_refund_amount  string   r
    refund_balance_cents     integer  r
    refund_balance_float     float    r
    formatted_refund_balance string   r
    _cancel                  boolean  uT
    """,
    relationships="""
    order                   one  orders R
    payment_source          one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers -
    attachments             many attachments -
    events                  many events -
    versions                many versions -
    event_stores            many event_stores V
    reference_authorization one  authorizations R
    refunds                 many refunds -
    return                  one  returns -
    """,
)


VOIDS = wire(
    "voids",
    actions="list retrieve update",
    singleton=False,
    fields="""
    number                 string   rfsR
    type                   string   rfsR enum=authorizations|voids|captures|refunds
    payment_method_type    string   r
    currency_code          string   rfR
    amount_cents           integer  rfsR
    amount_float           float    rR
    formatted_amount       string   rR
    succeeded              boolean  urfR
    message                string   rf
    error_code             string   rf
    error_detail           string   rf
    token                  string   rf
    gateway_transaction_id string   rf
    _forward               boolean  uT
    id                     string   rfsR
    created_at             datetime rfsR
    updated_at             datetime rfsR
    reference              string   curfs
    reference_origin       string   curfs
    metadata               object   curf
    """,
    relationships="""
    order                   one  orders R
    payment_source          one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers -
    attachments             many attachments -
    events                  many events -
    versions                many versions -
    event_stores            many event_stores V
    reference_authorization one  authorizations R
    """,
)


REFUNDS = wire(
    "refunds",
    actions="list retrieve update",
    singleton=False,
    fields="""
    number                 string   rfsR
    type                   string   rfsR enum=authorizations|voids|captures|refunds
    payment_method_type    string   r
    currency_code          string   rfR
    amount_cents           integer  rfsR
    amount_float           float    rR
    formatted_amount       string   rR
    succeeded              boolean  urfR
    message                string   rf
    error_code             string   rf
    error_detail           string   rf
    token                  string   rf
    gateway_transaction_id string   rf
    _forward               boolean  uT
    id                     string   rfsR
    created_at             datetime rfsR
    updated_at             datetime rfsR
    reference              string   curfs
    reference_origin       string   curfs
    metadata               object   curf
    """,
    relationships="""
    order             one  orders R
    payment_source    one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers -
    attachments       many attachments -
    events            many events -
    versions          many versions -
    event_stores      many event_stores V
    reference_capture one  captures R
    return            one  returns -
    """,
)


TRANSACTIONS = wire(
    "transactions",
    actions="list retrieve",
    singleton=False,
    fields="""
    number                 string   rfsR
    type                   string   rfsR enum=authorizations|voids|captures|refunds
    payment_method_type    string   r
    currency_code          string   rfR
    amount_cents           integer  rfsR
    amount_float           float    rR
    formatted_amount       string   rR
    succeeded              boolean  urfR
    message                string   rf
    error_code             string   rf
    error_detail           string   rf
    token                  string   rf
    gateway_transaction_id string   rf
    _forward               boolean  uT
    id                     string   rfsR
    created_at             datetime rfsR
    updated_at             datetime rfsR
    reference              string   curfs
    reference_origin       string   curfs
    metadata               object   curf
    """,
    relationships="""
    order          one  orders R
    payment_source one  adyen_payments|axerve_payments|braintree_payments|checkout_com_payments|external_payments|klarna_payments|paypal_payments|satispay_payments|stripe_payments|wire_transfers -
    attachments    many attachments -
    events         many events -
    versions       many versions -
    event_stores   many event_stores V
    """,
)


SHIPMENTS = wire(
    "shipments",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    number                 string   urfsPR
    status                 string   rfs enum=draft|upcoming|cancelled|on_hold|picking|packing|ready_to_ship|shipped|delivered
    currency_code          string   r
    cost_amount_cents      integer  rfs
    cost_amount_float      float    r
    formatted_cost_amount  string   r
    skus_count             integer  r
    _upcoming              boolean  uTP
    _cancel                boolean  uTP
    _on_hold               boolean  uT
    _picking               boolean  uT
    _packing               boolean  uT
    _ready_to_ship         boolean  uT
    _ship                  boolean  uT
    _deliver               boolean  uT
    _reserve_stock         boolean  uTP
    _release_stock         boolean  uTP
    _decrement_stock       boolean  uTP
    _get_rates             boolean  uT
    selected_rate_id       string   ur
    rates                  array    r
    _purchase              boolean  uT
    purchase_error_code    string   r
    purchase_error_message string   r
    get_rates_errors       array    r
    get_rates_started_at   datetime rfs
    get_rates_completed_at datetime rfs
    purchase_started_at    datetime rfs
    purchase_completed_at  datetime rfs
    purchase_failed_at     datetime rfs
    on_hold_at             datetime rfs
    picking_at             datetime rfs
    packing_at             datetime rfs
    ready_to_ship_at       datetime rfs
    shipped_at             datetime rfs
    delivered_at           datetime rfs
    id                     string   rfsR
    _add_tags              string   uP
    _remove_tags           string   uP
    created_at             datetime rfsR
    updated_at             datetime rfsR
    reference              string   curfs
    reference_origin       string   curfs
    metadata               object   curf
    """,
    relationships="""
    order                      one  orders cR
    shipping_category          one  shipping_categories cu
    inventory_stock_location   one  inventory_stock_locations cuR
    stock_location             one  stock_locations -
    origin_address             one  addresses -
    shipping_address           one  addresses cu
    shipping_method            one  shipping_methods cu
    delivery_lead_time         one  delivery_lead_times V
    pickup                     one  pickups -
    shipment_line_items        many shipment_line_items D
    stock_line_items           many stock_line_items -
    stock_transfers            many stock_transfers -
    line_items                 many line_items V
    available_shipping_methods many shipping_methods V
    carrier_accounts           many carrier_accounts V
    parcels                    many parcels -
    attachments                many attachments -
    events                     many events -
    tags                       many tags cuP
    versions                   many versions -
    event_stores               many event_stores V
    """,
)


SHIPPING_METHODS = wire(
    "shipping_methods",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                                string   curfsR
    scheme                              string   curfs enum=flat|weight_tiered|external
    currency_code                       string   curfsR
    external_prices_url                 string   curR
    price_amount_cents                  integer  curfsR
    price_amount_float                  float    r
    formatted_price_amount              string   r
    free_over_amount_cents              integer  curfs
    free_over_amount_float              float    r
    formatted_free_over_amount          string   r
    use_subtotal                        boolean  cur
    price_amount_for_shipment_cents     integer  r
    price_amount_for_shipment_float     float    r
    formatted_price_amount_for_shipment string   r
    min_weight                          float    cur
    max_weight                          float    cur
    unit_of_weight                      string   cur enum=gr|oz|lb
    tax_code                            string   cur
    id                                  string   rfsR
    _disable                            boolean  cuT
    _enable                             boolean  cuT
    disabled_at                         datetime rfs
    circuit_state                       string   rfs
    circuit_failure_count               integer  rfs
    _reset_circuit                      boolean  uTP
    shared_secret                       string   rR
    _regenerate_shared_secret           boolean  uTD
    external_includes                   array    cur
    _add_tags                           string   uP
    _remove_tags                        string   uP
    created_at                          datetime rfsR
    updated_at                          datetime rfsR
    reference                           string   curfs
    reference_origin                    string   curfs
    metadata                            object   curf
    """,
    relationships="""
    market                          one  markets cu
    shipping_zone                   one  shipping_zones cu
    shipping_category               one  shipping_categories cu
    stock_location                  one  stock_locations cu
    delivery_lead_time_for_shipment one  delivery_lead_times V
    shipping_method_tiers           many shipping_method_tiers cu
    shipping_weight_tiers           many shipping_weight_tiers V
    attachments                     many attachments -
    notifications                   many notifications -
    events                          many events -
    tags                            many tags cuP
    versions                        many versions -
    event_stores                    many event_stores V
    """,
)


SHIPPING_CATEGORIES = wire(
    "shipping_categories",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name             string   curfsR
    code             string   curfs
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    skus         many skus -
    attachments  many attachments -
    versions     many versions -
    event_stores many event_stores V
    """,
)


SHIPPING_ZONES = wire(
    "shipping_zones",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                   string   curfsR
    id                     string   rfsR
    country_code_regex     string   cur
    not_country_code_regex string   cur
    state_code_regex       string   cur
    not_state_code_regex   string   cur
    zip_code_regex         string   cur
    not_zip_code_regex     string   cur
    created_at             datetime rfsR
    updated_at             datetime rfsR
    reference              string   curfs
    reference_origin       string   curfs
    metadata               object   curf
    """,
    relationships="""
    attachments  many attachments -
    versions     many versions -
    event_stores many event_stores V
    """,
)


WEBHOOKS = wire(
    "webhooks",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name                      string   curf
    topic                     string   curfR
    callback_url              string   curR
    include_resources         array    cur
    id                        string   rfsR
    _disable                  boolean  cuT
    _enable                   boolean  cuT
    disabled_at               datetime rfs
    circuit_state             string   rfs
    circuit_failure_count     integer  rfs
    _reset_circuit            boolean  uTP
    shared_secret             string   rR
    _regenerate_shared_secret boolean  uTD
    created_at                datetime rfsR
    updated_at                datetime rfsR
    reference                 string   curfs
    reference_origin          string   curfs
    metadata                  object   curf
    """,
    relationships="""
    last_event_callbacks many event_callbacks V
    versions             many versions -
    event_stores         many event_stores V
    """,
)


EVENT_CALLBACKS = wire(
    "event_callbacks",
    actions="list retrieve",
    singleton=False,
    fields="""
    callback_url     string   rfR
    signature        string   R
    payload          object   r
    response_code    string   rfs
    response_message string   rfs
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    webhook      one  webhooks R
    event_stores many event_stores V
    """,
)


ORGANIZATION = wire(
    "organizations",
    actions="retrieve",
    singleton=True,
    fields="""
    name                                        string   cur
    slug                                        string   r
    domain                                      string   r
    support_phone                               string   cur
    support_email                               string   cur
    logo_url                                    string   cur
    favicon_url                                 string   cur
    primary_color                               string   cur
    gtm_id                                      string   cur
    gtm_id_test                                 string   cur
    config                                      object   r
    api_auth_redirect                           boolean  r default=true
    api_rules_engine                            boolean  r
    api_rules_engine_max_conditions_size        integer  r default=150
    api_rules_engine_max_rules_size             integer  r default=15
    api_new_auth                                boolean  r default=true
    api_purge_single_resource                   boolean  r
    api_max_regex_length                        integer  r default=5000
    addresses_avs_check                         boolean  r default=true
    addresses_phone_required                    boolean  r default=true
    orders_sales_channel_guest_only             boolean  r default=true
    orders_min_rebuild_shipments_lapse          float    r
    orders_min_refresh_lapse                    float    r
    orders_autorefresh_cutoff_test              integer  r default=50
    orders_autorefresh_cutoff_live              integer  r default=500
    orders_number_editable_test                 boolean  r
    orders_number_editable_live                 boolean  r
    orders_number_as_reference                  boolean  r default=true
    orders_invalid_coupon_errors                boolean  r default=true
    orders_invalid_gift_card_errors             boolean  r default=true
    orders_validate_shipping_stock              boolean  r
    bundles_max_items_count                     integer  r default=10
    coupons_min_code_length                     integer  r default=8
    coupons_max_code_length                     integer  r default=40
    gift_cards_exact_code_matching              boolean  r
    gift_cards_min_code_length                  integer  r default=8
    gift_cards_max_code_length                  integer  r default=40
    cleanups_max_concurrent_count               integer  r default=10
    exports_max_concurrent_count                integer  r default=10
    imports_max_concurrent_count                integer  r default=10
    imports_purge_cache                         boolean  r default=true
    imports_skip_errors                         boolean  r
    inventory_models_max_stock_locations_cutoff integer  r default=10
    promotions_max_concurrent_count             integer  r default=10
    promotions_max_conditions_size              integer  r default=150
    promotions_max_rules_size                   integer  r default=15
    price_lists_max_conditions_size             integer  r default=150
    price_lists_max_rules_size                  integer  r default=15
    imports_trigger_webhooks                    integer  r
    discount_engines_enabled                    boolean  r
    discount_engines_errors                     boolean  r
    tags_max_name_length                        integer  r default=25
    tags_max_allowed_number                     integer  r default=10
    tax_calculators_errors                      boolean  r
    external_promotions_errors                  boolean  r
    external_prices_errors                      boolean  r default=true
    id                                          string   rfsR
    created_at                                  datetime rfsR
    updated_at                                  datetime rfsR
    reference                                   string   curfs
    reference_origin                            string   curfs
    metadata                                    object   curf
    """,
    relationships="""
    event_stores many event_stores V
    """,
)


APPLICATION = wire(
    "applications",
    actions="retrieve",
    singleton=True,
    fields="""
    name             string   curf
    kind             string   curf enum=dashboard|user|contentful|bundles|customers|datocms|exports|external|generic|gift_cards|imports|integration|inventory|metrics|orders|price_lists|promotions|resources|returns|sales_channel|sanity|shipments|skus|sku_lists|stock_transfers|subscriptions|tags|webapp|webhooks|zapier
    public_access    boolean  rf
    redirect_uri     string   cur
    uid              string   -
    secret           string   -
    scopes           string   rf
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""

    """,
)


TAGS = wire(
    "tags",
    actions="list retrieve create update delete",
    singleton=False,
    fields="""
    name             string   curfsR
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    event_stores many event_stores V
    """,
)


# Resources the seed presupposes that the schema subset above does not describe; their
# fields follow the Commerce Layer documentation pages of the same resources.

MERCHANTS = wire(
    "merchants",
    actions="list retrieve create update delete",
    fields="""
    name             string   curfsR
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    address     one  addresses cuR
    attachments many attachments -
    versions    many versions -
    """,
)


INVENTORY_STOCK_LOCATIONS = wire(
    "inventory_stock_locations",
    actions="list retrieve create update delete",
    fields="""
    priority         integer  curfsR
    on_hold          boolean  curfs default=false
    id               string   rfsR
    created_at       datetime rfsR
    updated_at       datetime rfsR
    reference        string   curfs
    reference_origin string   curfs
    metadata         object   curf
    """,
    relationships="""
    stock_location  one stock_locations cuR
    inventory_model one inventory_models cuR
    versions        many versions -
    """,
)


CUSTOMER_PASSWORD_RESETS = wire(
    "customer_password_resets",
    actions="list retrieve create update delete",
    fields="""
    customer_email        string   crfR
    reset_password_token  string   r
    customer_password     string   u
    _reset_password_token string   u
    reset_password_at     datetime rfs
    id                    string   rfsR
    created_at            datetime rfsR
    updated_at            datetime rfsR
    reference             string   curfs
    reference_origin      string   curfs
    metadata              object   curf
    """,
    relationships="""
    customer     one  customers -
    events       many events -
    event_stores many event_stores V
    """,
)
