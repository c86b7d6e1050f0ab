// Send one SMS through the CloudBase function `send_single`, with the seed's event shape
// {mobile, nationcode} (plus template params when the template takes some).
const { errorOf, fromCallFailure, checkNumber } = require('../../utils/result.js')

Page({
  data: {
    nationcode: '86',
    mobile: '',
    params: '',
    sending: false,
    result: null, // {messageId, phone, status, fee}
    error: null, // {code, message}
  },

  onNationcodeInput(e) {
    this.setData({ nationcode: e.detail.value.trim() })
  },

  onMobileInput(e) {
    this.setData({ mobile: e.detail.value.trim() })
  },

  onParamsInput(e) {
    this.setData({ params: e.detail.value })
  },

  send() {
    const { nationcode, mobile, params } = this.data
    const invalid = checkNumber(nationcode, mobile)
    if (invalid) {
      this.setData({ error: invalid, result: null })
      return Promise.resolve()
    }
    const data = { mobile, nationcode }
    const list = params.split(/[,，\s]+/).filter(Boolean)
    if (list.length) data.params = list
    this.setData({ sending: true, result: null, error: null })
    return wx.cloud
      .callFunction({ name: 'send_single', data })
      .then((res) => this.showAnswer(res.result))
      .catch((err) => this.setData({ error: fromCallFailure(err) }))
      .then(() => this.setData({ sending: false }))
  },

  showAnswer(answer) {
    const error = errorOf(answer)
    if (error) {
      this.setData({ error })
      return
    }
    this.setData({
      result: { messageId: answer.message_id, phone: answer.phone, status: answer.status, fee: answer.fee },
    })
  },

  openOtp() {
    wx.navigateTo({ url: '/pages/otp/otp' })
  },
})
