/*
 * curl-floor: the least a process sending one GitHub request over
 * libcurl does (bench/github compares q-github with it): start with
 * libcurl loaded, initialise it, POST a small JSON body with the
 * headers GitHub wants, read the answer, exit.
 *
 *   curl-floor URL TOKEN
 */
#include <stdio.h>

#include <curl/curl.h>

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

int main(int argc, char **argv)
{
	struct curl_slist *h = NULL;
	char auth[256];
	CURL *c;
	CURLcode rc;

	if (argc != 3)
		return 2;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = curl_easy_init();
	h = curl_slist_append(h, "Accept: application/vnd.github+json");
	h = curl_slist_append(h, "X-GitHub-Api-Version: 2022-11-28");
	h = curl_slist_append(h, "User-Agent: curl-floor");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"title\":\"floor\"}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return rc == CURLE_OK ? 0 : 1;
}
