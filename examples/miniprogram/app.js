// sms-functions mini-program example: calls the Python cloud functions deployed to CloudBase
// (deploy/cloudbase/cloudbaserc.json) with wx.cloud.callFunction. See docs/deploy.md.

// The CloudBase environment the functions were deployed to (tcb env list / CloudBase console).
const CLOUD_ENV = 'your-env-id'

App({
  onLaunch() {
    if (!wx.cloud) {
      console.error('wx.cloud needs base library 2.2.3 or later')
      return
    }
    wx.cloud.init({ env: CLOUD_ENV, traceUser: true })
  },
})
