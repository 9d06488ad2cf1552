def test_huge_ids_are_404_on_pages_and_422_on_the_api(clinic_a, patient_a):
    client = clinic_a.client(clinic_a.physician)
    huge = 2**70
    assert client.get(f"/appointments/{huge}/").status_code == 404
    assert client.get(f"/patients/{huge}/").status_code == 404
    response = client.get(f"/api/v1/scheduling/appointments?practitioner={huge}")
    # SQLite cannot bind the number (422 problem); PostgreSQL compares it and finds nothing.
    if response.status_code == 200:
        assert response.json()["results"] == []
    else:
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"
