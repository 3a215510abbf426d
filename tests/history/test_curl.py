"""Copy as cURL: the stored request as a shell command, quoted so any body survives the shell."""

from history.curl import curl_command, shell_quote


def test_a_json_post_with_a_masked_secret_header_becomes_one_option_per_line():
    command = curl_command(
        method="POST",
        url="https://api.example.com/sms?lang=ko&x=1",
        headers=[["Content-Type", "application/json"], ["X-Secret-Key", "••••••"]],
        body='{"text": "It\'s on"}',
    )

    assert command == (
        "curl -X POST 'https://api.example.com/sms?lang=ko&x=1' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -H 'X-Secret-Key: ••••••' \\\n"
        "  --data-raw '{\"text\": \"It'\\''s on\"}'"
    )


def test_a_get_without_body_has_no_data_option():
    assert curl_command(method="GET", url="https://example.com/ping", headers=[], body="") == (
        "curl -X GET 'https://example.com/ping'"
    )


def test_a_url_with_brackets_turns_off_curl_globbing():
    assert curl_command(method="DELETE", url="https://example.com/items?ids[]=1", headers=[["Accept", "*/*"]], body="") == (
        "curl -X DELETE 'https://example.com/items?ids[]=1' \\\n  --globoff \\\n  -H 'Accept: */*'"
    )


def test_shell_metacharacters_and_line_breaks_stay_literal_inside_single_quotes():
    assert shell_quote('$HOME `id` "x" \\n\nline two') == "'$HOME `id` \"x\" \\n\nline two'"
    assert shell_quote("'") == "''\\'''"
    assert shell_quote("") == "''"
