# Writes the bodies a Rails sender produces for Wootric's events, with the
# encoders Rails and Rack really use. The files beside this script were made
# with it (Ruby 3.1, Rack 2.2, ActiveSupport 6.1); decode_test.go decodes
# them and, when Ruby is installed, runs this script again into a temporary
# folder and decodes that output too.
#
#   ruby generate.rb [DIR]
require "json"
require "rack"
require "active_support"
require "active_support/core_ext"
require "active_support/json"

dir = ARGV[0] || __dir__

# The sample events of Wootric's documentation, plus a rich one: a comment
# with everything a form or JSON must escape, property names with brackets,
# end-user properties of every
# JSON type, and fields this library does not model.
def events(zone)
  Time.zone = zone
  t = ->(s) { Time.zone.parse(s) }
  response = {
    "id" => 1128, "email" => "nps@example.com", "external_id" => "123abc",
    "score" => 7, "text" => nil, "ip_address" => "127.0.0.1",
    "origin_url" => "https://wootric.com/", "end_user_id" => 30,
    "end_user_properties" => { "pricing_plan" => "Enterprise", "product_plan" => "Web App" },
    "survey_id" => 1146,
    "created_at" => t.("2016-08-04 13:57:26.558"), "updated_at" => t.("2016-08-04 13:57:26.558"),
    "excluded_from_calculations" => false,
  }
  decline = {
    "id" => 19, "email" => "nps@example.com", "external_id" => "123abc",
    "ip_address" => "127.0.0.1", "origin_url" => "https://wootric.com/", "end_user_id" => 31,
    "end_user_properties" => { "pricing_plan" => "Pro", "product_plan" => "Web App" },
    "survey_id" => 1147,
    "created_at" => t.("2016-08-04 13:58:21.122"), "updated_at" => t.("2016-08-04 13:58:21.122"),
  }
  rich = response.merge(
    "id" => 4242, "score" => 10, "email" => "o'brien+nps@example.com",
    "text" => "Great \"app\" & team = 100% <3 + more\nSecond line: café ✓ 😀 \u2028end",
    "origin_url" => "https://example.com/pricing?plan=pro&x=1#top",
    "end_user_properties" => {
      "pricing_plan" => "Enterprise", "seats" => 1000, "mrr" => 12.5,
      "trial" => true, "churned" => false, "nickname" => nil,
      "address" => { "city" => "San Francisco", "zip" => "94107" },
      "tags" => ["a b", "c&d"], "Plan name" => "Gold [beta]",
      # Names with brackets, which Wootric allows: they must come back as named.
      "Plan [beta]" => "Gold", "[x]" => "y", "Ease of use [app]" => 9,
    },
    "updated_at" => t.("2016-08-05 09:01:02.345"),
    "excluded_from_calculations" => true,
    "tags" => ["promoter"], "completed" => true, "survey" => { "id" => 1, "name" => "Q3", "Label [x]" => "draft" },
  )
  common = { "timestamp" => t.("2016-08-04 13:57:31.329"), "account_token" => "NPS-xxxxxxxx", "survey_mode" => "NPS" }
  {
    "response-created" => { "response" => response, "event_name" => "created" }.merge(common),
    "decline-created" => { "decline" => decline, "event_name" => "created" }.merge(common.merge("timestamp" => t.("2016-08-04 13:58:23.309"))),
    "response-updated-rich" => { "response" => rich, "event_name" => "updated" }.merge(common.merge("account_token" => "NPS-EU-1a2b3c4d", "survey_mode" => "CES")),
  }
end

def write(dir, name, body)
  File.binwrite(File.join(dir, name), body)
end

["Pacific Time (US & Canada)", "UTC"].each do |zone|
  suffix = zone == "UTC" ? "-utc" : ""
  events(zone).each do |name, payload|
    # ActiveSupport's Hash#to_query: sorted pairs, brackets escaped, "+" for spaces, nil as "key=".
    write(dir, "#{name}#{suffix}.to_query.form", payload.to_query)
    # Rack's build_nested_query: pairs in order, nil as a bare key.
    write(dir, "#{name}#{suffix}.rack.form", Rack::Utils.build_nested_query(payload))
    # ActiveSupport's JSON: xmlschema times with milliseconds, <>& escaped.
    ActiveSupport::JSON::Encoding.time_precision = 3
    write(dir, "#{name}#{suffix}.to_json.json", payload.to_json)
    # Rails' JSON with whole seconds, and pretty-printed.
    ActiveSupport::JSON::Encoding.time_precision = 0
    write(dir, "#{name}#{suffix}.to_json-precision0.json", payload.to_json)
    ActiveSupport::JSON::Encoding.time_precision = 3
    write(dir, "#{name}#{suffix}.pretty.json", JSON.pretty_generate(payload.as_json))
    # ActiveSupport's JSON without the standard time format: 2016/08/04 13:57:26 -0700.
    ActiveSupport.use_standard_json_time_format = false
    write(dir, "#{name}#{suffix}.to_json-nonstandard-time.json", payload.to_json)
    ActiveSupport.use_standard_json_time_format = true
  end
end
