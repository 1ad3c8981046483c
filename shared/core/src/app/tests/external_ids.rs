use crate::app::auth;
use crate::store::keys;
use crate::testing::Memory;

#[tokio::test]
async fn each_organisation_has_one_stable_external_id_no_other_can_derive() {
    let m = Memory::new();
    let a = auth::create_org(&m.ctx, "a").await.unwrap();
    let b = auth::create_org(&m.ctx, "b").await.unwrap();
    let first = auth::external_id(&m.ctx, &a.org_id).await.unwrap();
    assert_eq!(auth::external_id(&m.ctx, &a.org_id).await.unwrap(), first);
    let other = auth::external_id(&m.ctx, &b.org_id).await.unwrap();
    assert_ne!(first, other);
    assert!(
        !first.contains(&a.org_id),
        "not derived from the org's id: {first}"
    );
    // An organisation from before external ids were issued gets one, once.
    m.ctx
        .table
        .delete_many(vec![keys::org_external_id(&a.org_id)])
        .await
        .unwrap();
    let (x, y) = tokio::join!(
        auth::external_id(&m.ctx, &a.org_id),
        auth::external_id(&m.ctx, &a.org_id)
    );
    assert_eq!(x.unwrap(), y.unwrap());
}
